# The harness (run.py) installs this file, for --impl ours, as src/lib/Gitolite/Conf/Load.pm
# of the exported tree, with the path of gitolite-triggers filled in below. Written for the
# harness: it is not gitolite's module. A few t/ files (templates.t) call gitolite's Perl
# access(REPO, USER, PERM, REF) in-process instead of running a command; here each call is
# one line to a single `gitolite-triggers access --batch` co-process, and its answer.
package Gitolite::Conf::Load;

use strict;
use warnings;
use Exporter 'import';
use IPC::Open2 ();

our @EXPORT = qw(access);

my $GT = '@GITOLITE_TRIGGERS@';
my ( $from, $to, $pid );

sub access {
    my ( $repo, $user, $aa, $ref ) = @_;
    $ref = 'any' unless defined $ref and length $ref;
    $pid ||= IPC::Open2::open2( $from, $to, $GT, 'access', '--batch' );
    print {$to} "$repo $user $aa $ref\n";
    $to->flush;
    my $line = <$from>;
    die "gitolite-triggers access --batch ended\n" unless defined $line;
    chomp $line;
    my ( undef, $result ) = split /\t/, $line, 2;
    return $result;
}

1;
