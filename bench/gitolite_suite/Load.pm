# The harness (run.py) installs this file, for --impl ours, as src/lib/Gitolite/Conf/Load.pm
# of the exported tree, with the path of gitolite-triggers filled in below. Written for the
# harness: it is not gitolite's module. A few t/ files (templates.t) call gitolite's Perl
# access(REPO, USER, PERM, REF) in-process instead of running a command; here each call is
# one line to a single `gitolite-triggers access --batch` co-process, and its answer.
# easy.t calls gitolite's Gitolite::Easy, which needs a few more of this module's functions
# (git_config, creator, repo_missing, list_memberships): each runs our `gitolite` command
# (argv, no shell) or reads the repo's file, as that command documents.
package Gitolite::Conf::Load;

use strict;
use warnings;
use Exporter 'import';
use IPC::Open2 ();

our @EXPORT = qw(access git_config repo_missing creator);

my $GT = '@GITOLITE_TRIGGERS@';
( my $GL = $GT ) =~ s{[^/]*$}{gitolite};    # our `gitolite` command, beside gitolite-triggers
my $RB;
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
    # the access command (and --batch) says "allowed by fallthru" for a VREF ref, as
    # gitolite's command does; gitolite's Perl access() returns the raw denial
    $result =~ s/allowed by fallthru$/DENIED by fallthru/ if $ref =~ m(^VREF/);
    return $result;
}

sub _lines {    # our `gitolite ARGS...`'s stdout lines (a failure: none)
    open( my $fh, '-|', $GL, @_ ) or die "cannot run $GL: $!\n";
    my @lines = <$fh>;
    close $fh;
    chomp @lines;
    return @lines;
}

sub _base {
    ($RB) = _lines( 'query-rc', 'GL_REPO_BASE' ) unless defined $RB;
    return $RB;
}

sub repo_missing {
    my $repo = shift;
    return not -d _base() . "/$repo.git";
}

sub creator {    # gl-creator as written (no newline or one), '' when there is none
    my $repo = shift;
    open( my $fh, '<', _base() . "/$repo.git/gl-creator" ) or return '';
    my $c = <$fh>;
    close $fh;
    $c = '' unless defined $c;
    chomp $c;
    return $c;
}

sub git_config {    # {KEY => VALUE} for the repo's config keys matching the regex KEY
    my ( $repo, $key ) = @_;
    my %ret;
    for ( _lines( 'git-config', '-r', $repo, $key ) ) {
        my ( undef, $k, $v ) = split /\t/, $_, 3;
        $ret{$k} = $v if defined $v;
    }
    return \%ret;
}

sub list_memberships {    # ('-u', USER [, '-r', REPO]) as `gitolite list-memberships`
    return [ _lines( 'list-memberships', @_ ) ];
}

1;
