"""A seeded generator of gitolite.conf files, wild repos and access queries.

Used by the differential test against the real gitolite and by bench/bench_rules.py.
Everything it makes is valid for both gitolite and us (gitolite would only *warn*
about some of it, e.g. an undeclared group or an R rule with a ref), and it covers the
rule language's moving parts: cumulative and nested groups, repo groups (also one used
before its definition, and one with a regex member), @all, plain names with dots, wild
patterns with CREATOR, roles through gl-perms, deny rules with and without
``option deny-rules``, refexes (bare names, refs/tags, USER, anchors, alternation), the
RWC/RW+D/RWM options, ``include``, and configs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Every permission form the rule language accepts (the parser test checks each one).
ALL_PERMS = [
    "-",
    "C",
    "R",
    "RW",
    "RW+",
    "RWC",
    "RW+C",
    "RWD",
    "RW+D",
    "RWCD",
    "RW+CD",
    "RW+DC",
    "RWM",
    "RW+M",
    "RW+CDM",
    "RWDCM",
]
# How often the generator picks each form (a subset of ALL_PERMS).
PERM_WEIGHTS = {
    "-": 6,
    "R": 10,
    "RW": 12,
    "RW+": 12,
    "RWC": 2,
    "RW+C": 2,
    "RWD": 2,
    "RW+D": 2,
    "RW+CD": 2,
    "RW+DC": 1,
    "RWM": 2,
    "RW+CDM": 1,
    "C": 2,
}
REFEXES = [
    "",
    "",
    "",
    "master",
    "dev/",
    "refs/tags/v[0-9]",
    "refs/tags/",
    "feature/",
    "USER/",
    "refs/heads/USER/",
    "rel-[0-9]+",
    "master$",
    "refs/heads/(a|b)x",
    "@rf",
]
PATTERNS = [
    "wild/CREATOR/..*",
    "tmp/[a-z]+[0-9]*",
    "pub/..*",
    "u/CREATOR/[a-z0-9]+",
    "team[0-9]/.*",
]
QUERY_REFS = [
    "any",
    "master",
    "dev/x",
    "refs/tags/v1",
    "feature/y",
    "u3/topic",
    "refs/heads/rel-12",
    "refs/tags/other",
    "bx",
    "master2",
]
QUERY_PERMS = ["R", "W", "+", "C", "D", "M", "^C"]


@dataclass
class Generated:
    conf: str
    includes: dict[str, str]
    wild: list[tuple[str, str, str | None]]  # repo, creator, gl-perms text
    plain: list[str]
    users: list[str]
    queries: list[tuple[str, str, str, str]] = field(default_factory=list)


def generate(
    seed: int,
    n_repos: int = 320,
    n_users: int = 14,
    n_queries: int = 2600,
    n_wild: int = 40,
    n_pairs: int = 16,
) -> Generated:
    rnd = random.Random(seed)
    users = [f"u{i}" for i in range(n_users)] + ["a.b", "c-d", "e@f", "x+y"]
    plain = []
    for i in range(n_repos):
        kind = i % 5
        plain.append([f"proj{i}", f"team/t{i}", f"x.y{i}", f"lib-{i}", f"org/sub/r{i}"][kind])
    ugroups = [f"@g{i}" for i in range(10)]
    lines: list[str] = [f"# generated conf, seed {seed}", "@rf = master dev/", ""]
    defined: list[str] = []
    for g in ugroups:
        members = rnd.sample(users, rnd.randint(2, 7))
        if defined and rnd.random() < 0.5:
            members.append(rnd.choice(defined))
        lines.append(f"{g} = {' '.join(members)}")
        defined.append(g)
    # cumulative: a second definition adds members
    lines.append(f"@g0 = {rnd.choice(users)}  # more members")
    rgroups = [f"@rg{i}" for i in range(5)]
    for g in rgroups:
        lines.append(f"{g} = {' '.join(rnd.sample(plain, rnd.randint(2, 8)))}")
    lines.append("@rgx = team/t1.* pat/[a-z]+ lib-1")
    lines.append("")

    def userlist(wild: bool) -> str:
        pool = (
            users
            + ugroups * 2
            + ["@all"] * 8
            + (["CREATOR", "READERS", "WRITERS"] * 6 if wild else [])
            + ["@nosuch"]
        )
        return " ".join(rnd.sample(pool, rnd.randint(1, 3)))

    def rules(wild: bool) -> list[str]:
        out = []
        for _ in range(rnd.randint(1, 5)):
            perm = rnd.choices(list(PERM_WEIGHTS), list(PERM_WEIGHTS.values()))[0]
            refs = " ".join(r for r in rnd.sample(REFEXES, rnd.randint(0, 2)) if r)
            if perm == "C":
                refs = ""
            users = userlist(wild)
            style = rnd.random()
            if style < 0.1:  # formatting noise gitolite's clean-up absorbs
                out.append(f"\t{perm}\t{refs}={users}\t# a comment")
            elif style < 0.15:
                out.append(f"{perm}   {refs}   =   {users}")
            else:
                out.append(f"    {perm:<7} {refs} = {users}".replace("  =", " ="))
        if rnd.random() < 0.2:
            out.append("    option deny-rules = 1")
        if rnd.random() < 0.1:
            out.append("    option ENV.CI = yes")
        if rnd.random() < 0.1:
            out.append("    option ENV.WHO = %GL_CREATOR/%GL_REPO")
        if rnd.random() < 0.1:
            out.append("    config gitolite-options.deny-rules = 0")
        return out

    blocks: list[list[str]] = []
    shuffled = plain[:]
    rnd.shuffle(shuffled)
    pos = 0
    while pos < len(shuffled):
        k = rnd.choice([1, 1, 1, 2, 3])
        names = shuffled[pos : pos + k]
        pos += k
        shown = [n + ".git" if rnd.random() < 0.03 else n for n in names]  # '.git' is dropped
        block = [f"repo {' '.join(shown)}", *rules(False)]
        if rnd.random() < 0.02:
            block += ["= begin testconf", "    RW+ = @all", "= end"]  # skipped by both
        blocks.append(block)
    for p in PATTERNS:
        blocks.append(
            [f"repo {p}", "    C = " + userlist(False).replace("CREATOR", "u1"), *rules(True)]
        )
        blocks.append([f"repo {p}", *rules(True)])
    for g in [*rgroups, "@rgx", "@rg9"]:
        blocks.append([f"repo {g}", *rules(False)])
    blocks.append(["repo @all", "    R = u0", "    - master = u1"])
    blocks.append(["repo proj0 tmp/[a-z]+[0-9]* @rg1", *rules(True)])
    rnd.shuffle(blocks)
    cut = len(blocks) * 2 // 3
    main = lines + [ln for b in blocks[:cut] for ln in [*b, ""]]
    main.append('include "extra/*.conf"')
    main.append("@rg9 = proj1 proj2 lib-3")
    rest = blocks[cut:]
    half = len(rest) // 2
    includes = {
        "extra/b.conf": "\n".join(ln for b in rest[:half] for ln in [*b, ""]),
        "extra/a.conf": "\n".join(ln for b in rest[half:] for ln in [*b, ""]),
    }
    wild = []
    for i in range(n_wild):
        creator = rnd.choice(users[:12] + ["a.b", "x+y", "e@f"])
        repo = rnd.choice(
            [
                f"wild/{creator}/w{i}",
                f"tmp/abc{i}",
                f"pub/p{i}",
                f"u/{creator}/x{i}",
                f"team{i % 10}/r{i}",
            ]
        )
        perms = None
        if rnd.random() < 0.7:
            lines_p = []
            for role in ("READERS", "WRITERS"):
                if rnd.random() < 0.7:
                    lines_p.append(
                        f"{role} {' '.join(rnd.sample(users + ugroups + ['@all'], rnd.randint(1, 3)))}"
                    )
            if rnd.random() < 0.2:
                lines_p.append("# a comment")
                lines_p.append("READERS = u9")
            perms = "\n".join(lines_p) + "\n"
        wild.append((repo, creator, perms))
    wild = list({w[0]: w for w in wild}.values())
    gen = Generated(
        conf="\n".join(main) + "\n", includes=includes, wild=wild, plain=plain, users=users
    )
    gen.queries = _queries(rnd, gen, n_queries, n_pairs)
    return gen


def combos(seed: int, n: int = 24) -> list[tuple[str, str]]:
    """The (perm, ref) pairs queries use: every perm and every ref appears, few pairs in all.

    gitolite's batch mode takes one perm and ref per process, so fewer pairs keep the
    reference side fast.
    """
    rnd = random.Random(seed * 7 + 1)
    pairs = [
        (QUERY_PERMS[i % len(QUERY_PERMS)], QUERY_REFS[i % len(QUERY_REFS)])
        for i in range(max(len(QUERY_PERMS), len(QUERY_REFS)))
    ]
    everything = [(p, r) for p in QUERY_PERMS for r in QUERY_REFS if (p, r) not in pairs]
    pairs += rnd.sample(everything, n - len(pairs))
    return pairs


def _queries(
    rnd: random.Random, gen: Generated, n: int, n_pairs: int
) -> list[tuple[str, str, str, str]]:
    wild_names = [w[0] for w in gen.wild]
    pairs = combos(rnd.randint(0, 10**6), n_pairs)
    missing = (
        ["nosuch", "proj99999", "xzy3", "x-y8", "team/t"]
        + [f"wild/{u}/new" for u in gen.users[:6]]
        + [
            "tmp/zz9",
            "pub/fresh",
            "u/u3/q1",
            "team3/new",
            "pat/abc",
            "@rg1",
            "@all",
            "alt/x",
            "alt/xq",
            "zalt/y1",
            "alt/y12",
        ]
    )
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.45:
            repo = rnd.choice(gen.plain)
        elif r < 0.7:
            repo = rnd.choice(wild_names)
        else:
            repo = rnd.choice(missing)
        user = (
            rnd.choice(gen.users)
            if rnd.random() < 0.9
            else rnd.choice(["stranger", "zz9", "admin"])
        )
        out.append((repo, user, *rnd.choice(pairs)))
    return out
