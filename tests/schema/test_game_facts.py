"""The game-facts tables (characters, stages, actions) checked against independent facts.

Independent facts are: the real replays in ../shared/replays (read with peppi-py), py-slippi's id
tables (a separate parser whose ids come from the SSBM Data Sheet), and a few numbers the brief
fixes. When a corpus check fails, the tables are wrong, not the thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from dreamland.schema import actions as A
from dreamland.schema import characters as C
from dreamland.schema import stages as S

GAURAV = "Gaurav-Iyer_stockfox__test.slp"


# ---------------------------------------------------------------------------------------------
# The corpus, parsed once


@dataclass
class Track:
    """One character's post-frame arrays (float64, NaN where the frame has no value)."""

    character: np.ndarray
    state: np.ndarray
    stocks: np.ndarray
    x: np.ndarray
    y: np.ndarray
    direction: np.ndarray
    airborne: np.ndarray | None


@dataclass
class Player:
    port: int  # 1..4
    ext_character: int
    leader: Track
    follower: Track | None


@dataclass
class Game:
    file: str
    version: tuple[int, int, int]
    stage: int
    is_teams: bool
    players: list[Player] = field(default_factory=list)


def _arr(a) -> np.ndarray:
    return np.asarray(a.to_numpy(zero_copy_only=False), dtype=np.float64)


def _track(data) -> Track | None:
    if data is None:
        return None
    post = data.post
    return Track(
        character=_arr(post.character),
        state=_arr(post.state),
        stocks=_arr(post.stocks),
        x=_arr(post.position.x),
        y=_arr(post.position.y),
        direction=_arr(post.direction),
        airborne=None if post.airborne is None else _arr(post.airborne),
    )


def _read(path: Path) -> Game | None:
    import peppi_py

    try:
        g = peppi_py.read_slippi(str(path))
    except KeyboardInterrupt:
        raise
    except BaseException:  # peppi raises pyo3 PanicException (a BaseException) on bad files
        return None
    st = g.start
    game = Game(path.name, tuple(st.slippi.version), int(st.stage), bool(st.is_teams))
    for pl, port in zip(st.players, g.frames.ports):
        game.players.append(
            Player(int(pl.port) + 1, int(pl.character), _track(port.leader), _track(port.follower))
        )
    return game


@pytest.fixture(scope="module")
def corpus(replays_dir) -> list[Game]:
    games = [g for p in sorted(replays_dir.glob("*.slp")) if (g := _read(p)) is not None]
    if len(games) < 20:
        pytest.skip(f"only {len(games)} replays parsed")
    return games


def _tracks(corpus, need_airborne=False):
    for g in corpus:
        for p in g.players:
            for t in (p.leader, p.follower):
                if t is None or (need_airborne and t.airborne is None):
                    continue
                yield g, p, t


# ---------------------------------------------------------------------------------------------
# Characters


def test_character_tables_are_complete_and_consistent():
    assert C.NUM_INTERNAL == 33 and C.NUM_EXTERNAL == 33
    assert sorted(C.BY_INTERNAL) == list(range(33))
    assert sorted(C.EXTERNAL_NAMES) == list(range(33))
    for i in range(33):
        ext = C.internal_to_external(i)
        back = C.external_to_internal(ext, follower=(i == C.NANA_INTERNAL))
        assert back == i, (i, ext, back)
    assert C.external_to_internal(14) == 10 and C.external_to_internal(14, follower=True) == 11
    assert C.external_to_internal(2, follower=True) == 1  # follower only matters for ICs
    with pytest.raises(KeyError):
        C.external_to_internal(33)
    # the brief's spot values
    assert [C.name_of_internal(i) for i in (0, 1, 2, 10, 11, 21, 24, 27, 28, 32)] == [
        "Mario", "Fox", "Captain Falcon", "Popo", "Nana", "Dr. Mario", "Mr. Game & Watch",
        "Master Hand", "Crazy Hand", "Sandbag",
    ]
    assert (C.name_of_external(0), C.name_of_external(12), C.name_of_external(14)) == (
        "Captain Falcon", "Peach", "Ice Climbers",
    )
    assert C.name_of_external(99).startswith("Unknown")
    for ch in C.CHARACTERS:
        assert 0 < ch.width and 0 < ch.height < 60


def test_characters_agree_with_py_slippi():
    sid = pytest.importorskip("slippi.id")
    def norm(s: str) -> str:  # "Mr. Game & Watch" vs GAME_AND_WATCH, "Dr. Mario" vs DR_MARIO
        s = "".join(c for c in s.lower().replace("&", "and") if c.isalnum())
        return s.removeprefix("mr")

    for i in range(33):
        assert norm(C.name_of_internal(i)) == norm(sid.InGameCharacter(i).name), i
        assert C.internal_to_external(i) == int(sid.CSSCharacter.from_internal_id(i)), i
    for e in range(33):
        assert norm(C.name_of_external(e)) == norm(sid.CSSCharacter(e).name), e


def test_character_parsing():
    assert C.external_character_id("Fox") == 2
    assert C.external_character_id("captain falcon") == 0
    assert C.external_character_id("ICs") == 14
    assert C.external_character_id("Dr. Mario") == 22
    assert C.external_character_id("12") == 12
    with pytest.raises(KeyError):
        C.external_character_id("Goku")


def test_gaurav_replay_characters(replay_file):
    g = _read(replay_file(GAURAV))
    assert g is not None, f"peppi-py cannot read {GAURAV}"
    assert [p.ext_character for p in g.players] == [12, 0]  # Peach, Captain Falcon
    for p in g.players:
        ch = p.leader.character[~np.isnan(p.leader.character)]
        assert len(ch) > 1000
        assert np.all(ch == C.external_to_internal(p.ext_character))


def test_post_frame_characters_match_start_block_across_corpus(corpus):
    checked = transforms = followers = 0
    for g in corpus:
        for p in g.players:
            ch = p.leader.character[~np.isnan(p.leader.character)].astype(int)
            if p.ext_character in (C.ZELDA_EXTERNAL, C.SHEIK_EXTERNAL):
                assert set(ch) <= {C.ZELDA_INTERNAL, C.SHEIK_INTERNAL}, (g.file, p.port)
                transforms += len(set(ch)) > 1
            else:
                assert np.all(ch == C.external_to_internal(p.ext_character)), (g.file, p.port)
            if p.follower is not None:
                fc = p.follower.character[~np.isnan(p.follower.character)].astype(int)
                if len(fc):
                    assert p.ext_character == C.ICE_CLIMBERS_EXTERNAL, (g.file, p.port)
                    assert np.all(fc == C.external_to_internal(p.ext_character, follower=True))
                    followers += 1
            checked += 1
    assert checked > 250
    assert followers >= 1  # the corpus has Ice Climbers games
    assert transforms >= 1  # and a Zelda/Sheik transformation


def test_character_heights_match_ledge_hang_depth(corpus):
    """`height` is the hang depth below the ledge; measure it on stages whose ledge is at y=0."""
    flat = {S.FINAL_DESTINATION, S.BATTLEFIELD, S.DREAM_LAND, S.POKEMON_STADIUM}
    depths: dict[int, list[np.ndarray]] = {}
    for g, _, t in _tracks(corpus):
        if g.stage not in flat:
            continue
        m = t.state == 0xFD  # CLIFF_WAIT
        for c in np.unique(t.character[m]):
            depths.setdefault(int(c), []).append(-t.y[m & (t.character == c)])
    assert len(depths) >= 10
    for c, parts in depths.items():
        d = np.concatenate(parts)
        if len(d) < 20:
            continue
        measured = float(np.median(d))
        assert abs(C.character(c).height - measured) <= 0.15 * measured, (
            C.name_of_internal(c), C.character(c).height, measured,
        )


# ---------------------------------------------------------------------------------------------
# Stages


def test_stage_ids():
    assert S.LEGAL_STAGES_EXTERNAL == frozenset({2, 3, 8, 28, 31, 32})
    libmelee = {32: 0x19, 31: 0x18, 3: 0x12, 28: 0x1A, 2: 0x8, 8: 0x6}
    for ext, internal in libmelee.items():
        assert S.is_legal(ext)
        assert S.external_to_internal_stage(ext) == internal
        assert S.internal_to_external_stage(internal) == ext
    assert not S.is_legal(4)
    with pytest.raises(KeyError):
        S.external_to_internal_stage(4)
    grkind = {2: 12, 3: 16, 8: 10, 28: 28, 31: 36, 32: 37, 84: 0x43, 33: 40, 58: 65}
    for ext, gk in grkind.items():
        assert S.external_to_grkind(ext) == gk and S.grkind_to_external(gk) == ext
    # every id slippi-js stages.json lists: 2..20, 22..58, 84
    assert sorted(S.STAGES) == [*range(2, 21), *range(22, 59), 84]
    assert S.stage_name(32) == "Final Destination" and S.stage_name(3) == "Pokémon Stadium"
    assert S.stage_name(1).startswith("Unknown")
    assert S.external_stage_id("FD") == 32 and S.external_stage_id("yoshi's story") == 8
    assert S.external_stage_id("pokemon stadium") == 3 and S.external_stage_id("31") == 31
    with pytest.raises(KeyError):
        S.external_stage_id("Hyrule Castle")


def test_stages_agree_with_py_slippi():
    sid = pytest.importorskip("slippi.id")
    norm = lambda s: "".join(c for c in s.lower().replace("é", "e") if c.isalnum())  # noqa: E731
    for st in sid.Stage:
        ours = norm(S.stage_name(int(st)))
        theirs = norm(st.name)
        assert ours == theirs or ours.replace("princess", "") == theirs.replace("princess", ""), (
            int(st), ours, theirs,
        )


def test_blast_zones_are_the_given_numbers():
    given = {
        31: (-224, 224, 200, -108.8),
        32: (-246, 246, 188, -140),
        28: (-255, 255, 250, -123),
        2: (-198.75, 198.75, 202.5, -146.25),
        3: (-230, 230, 180, -111),
        8: (-175.7, 173.6, 168, -91),
    }
    for ext, bz in given.items():
        assert S.geometry(ext).blast_zones == bz
    with pytest.raises(KeyError):
        S.geometry(4)


@pytest.mark.parametrize("ext", sorted(S.LEGAL_STAGES_EXTERNAL))
def test_geometry_is_sane(ext):
    g = S.geometry(ext)
    assert g.external_id == ext and g.name == S.stage_name(ext)
    assert g.blast_left < g.ground_left < g.ground_right < g.blast_right
    assert g.blast_bottom < g.ground_y < g.blast_top
    assert g.ground_x < g.ledge_x < g.ground_x + 5
    for pf in g.platforms:
        assert pf.left < pf.right
        assert g.blast_left < pf.left and pf.right < g.blast_right
        assert g.ground_y < pf.y < g.blast_top
        # over the main stage (Yoshi's Story's side platforms overhang it by a few units)
        assert -g.ledge_x - 2 < pf.left and pf.right < g.ledge_x + 2
    assert len(g.spawns) == 4
    for sp in g.spawns:
        assert g.blast_left < sp.x < g.blast_right and g.blast_bottom < sp.y < g.blast_top
        assert -g.ground_x < sp.x < g.ground_x and sp.y > g.ground_y
        assert sp.facing in (-1, 1)
    assert g.spawn(1).x < 0 < g.spawn(2).x and g.spawn(1).facing == 1 and g.spawn(2).facing == -1
    if g.symmetric:
        left = sorted((-p.right, -p.left, p.y) for p in g.platforms)
        assert left == sorted((p.left, p.right, p.y) for p in g.platforms)
        assert g.blast_left == -g.blast_right
    assert S.geometry(S.YOSHIS_STORY).blast_left != -S.geometry(S.YOSHIS_STORY).blast_right


def test_start_block_stages_are_known(corpus):
    seen = {g.stage for g in corpus}
    legal_seen = seen & S.LEGAL_STAGES_EXTERNAL
    assert legal_seen == S.LEGAL_STAGES_EXTERNAL  # the corpus has all six
    for ext in legal_seen:
        assert S.internal_to_external_stage(S.external_to_internal_stage(ext)) == ext


RANDALL_BOTTOM_Y = -33.2489  # libmelee melee/stages.py randall_position, bottom section


def test_teeter_positions_match_edges_and_platforms(corpus):
    """Teetering (OTTOTTO) happens at the edge of the ground or of a platform: its (x, y) must be
    one of the table's edges."""
    for ext in sorted(S.LEGAL_STAGES_EXTERNAL):
        geo = S.geometry(ext)
        edges = [(geo.ground_x, geo.ground_y), (-geo.ground_x, geo.ground_y)]
        edges += [(x, p.y) for p in geo.platforms for x in (p.left, p.right)]
        moving_x = [x for p in geo.platforms if p.moves for x in (p.left, p.right)]
        hits = total = 0
        for g, _, t in _tracks(corpus):
            if g.stage != ext:
                continue
            m = (t.state == 0xF5) | (t.state == 0xF6)
            for x, y in zip(t.x[m], t.y[m]):
                if ext == S.YOSHIS_STORY and abs(y - RANDALL_BOTTOM_Y) < 0.1:
                    continue  # teetering on Randall, the moving cloud (not in the table)
                total += 1
                if any(abs(x - ex) < 0.6 and abs(y - ey) < 0.2 for ex, ey in edges) or any(
                    abs(x - mx) < 0.6 for mx in moving_x
                ):
                    hits += 1
        if total < 30:
            continue
        # Pokemon Stadium transforms; allow its other forms a small share
        assert hits >= 0.9 * total, (geo.name, hits, total)


def test_spawn_slots_match_first_frame_in_1v1s(corpus):
    agree = total = 0
    for g in corpus:
        if g.stage not in S.LEGAL_STAGES_EXTERNAL or len(g.players) != 2 or g.is_teams:
            continue
        if any(p.ext_character == C.ICE_CLIMBERS_EXTERNAL for p in g.players):
            continue  # Popo enters a few units off the spawn point
        geo = S.geometry(g.stage)
        a, b = sorted(g.players, key=lambda p: p.port)
        for p, slot in ((a, 1), (b, 2)):
            sp = geo.spawn(slot)
            total += 1
            agree += (
                abs(p.leader.x[0] - sp.x) < 0.5
                and abs(p.leader.y[0] - sp.y) < 0.5
                and p.leader.direction[0] == sp.facing
            )
    assert total >= 100
    assert agree >= 0.9 * total, (agree, total)


# ---------------------------------------------------------------------------------------------
# Actions


def test_action_names():
    assert A.ACTION_VOCAB == 400 and A.UNKNOWN_ACTION == 399
    assert A.action_name(0) == "DEAD_DOWN"
    assert A.action_name(12) == "ON_HALO_DESCENT"
    assert A.action_name(178) == "SHIELD_START" and A.action_name(182) == "SHIELD_REFLECT"
    assert A.action_name(0x46) == "NAIR_LANDING"
    assert A.action_name(0x154) == "BARREL_CANNON_WAIT"
    assert A.action_name(0x16A) == "SPECIAL_0x16A"
    assert A.datasheet_name(178) == "GUARD_ON"
    assert len(A.Action) == 0x155 and A.Action.EDGE_HANGING == 0xFD


def test_action_names_agree_with_py_slippi():
    sid = pytest.importorskip("slippi.id")
    for i in range(A.NUM_COMMON_ACTIONS):
        assert A.datasheet_name(i) == sid.ActionState(i).name


def test_action_to_vocab():
    ids = np.array([0, 1, 178, 398, 399, 400, 0x1FF, 5000, 65535], dtype=np.uint16)
    out = A.action_to_vocab(ids)
    assert out.tolist() == [0, 1, 178, 398, 399, 399, 399, 399, 399]
    assert out.min() >= 0 and out.max() < A.ACTION_VOCAB
    assert A.action_to_vocab(np.array([3.0, np.nan, -1.0])).tolist() == [3, 399, 399]
    assert A.action_to_vocab(12) == 12 and A.action_to_vocab(1234) == 399
    assert A.action_to_vocab(np.zeros((2, 3), dtype=np.int32)).shape == (2, 3)


def test_action_categories_and_predicates():
    Cat = A.ActionCategory
    assert {c.label for c in Cat} == {
        "idle", "movement", "aerial", "ground_attack", "aerial_attack", "damage",
        "shield_dodge", "grab", "ledge", "special", "other",
    }
    expect = {
        0x0E: Cat.IDLE, 0x14: Cat.MOVEMENT, 0x19: Cat.AERIAL, 0x3C: Cat.GROUND_ATTACK,
        0x41: Cat.AERIAL_ATTACK, 0x4A: Cat.AERIAL_ATTACK, 0x58: Cat.DAMAGE, 0xB3: Cat.SHIELD_DODGE,
        0xEC: Cat.SHIELD_DODGE, 0xD4: Cat.GRAB, 0xFD: Cat.LEDGE, 0x16A: Cat.SPECIAL,
        500: Cat.SPECIAL, 0: Cat.OTHER, 0x142: Cat.OTHER,
    }
    for i, cat in expect.items():
        assert A.action_category(i) == cat, (i, A.action_name(i))
    cats = A.action_category(np.arange(A.ACTION_VOCAB))
    assert set(np.unique(cats)) == {int(c) for c in Cat}
    assert [i for i in range(20) if A.is_dead(i)] == list(range(11))
    assert [i for i in range(400) if A.is_respawning(i)] == [12, 13]
    assert [i for i in range(400) if A.is_shielding(i)] == list(range(178, 183))
    assert A.is_dead(np.array([0, 10, 11, 400])).tolist() == [True, True, False, False]
    for i in range(400):
        assert not (A.is_airborne_only(i) and A.is_grounded_only(i))
    assert A.is_airborne_only(0x41) and A.is_airborne_only(0xEC) and not A.is_airborne_only(0x0E)
    assert A.is_grounded_only(0x0E) and A.is_grounded_only(0xB3) and not A.is_grounded_only(0x1D)
    assert all(A.is_grounded_only(i) for i in range(178, 183))


def test_dead_states_come_with_a_stock_loss(corpus):
    """Every run of dead states has a stock decrement within it (+-3 frames) or the replay ends
    during it. Ports whose stock count never drops (training mode's infinite stocks) are skipped."""
    runs = 0
    for g, p, t in _tracks(corpus):
        if t is not p.leader:
            continue  # stocks are per player; the leader's death is the one that counts
        st = t.stocks
        drops = np.flatnonzero(st[1:] < st[:-1]) + 1
        dead = A.is_dead(t.state)
        if not dead.any() or len(drops) == 0:
            continue
        starts = np.flatnonzero(dead & ~np.r_[False, dead[:-1]])
        ends = np.flatnonzero(dead & ~np.r_[dead[1:], False])
        for s0, e0 in zip(starts, ends):
            runs += 1
            lost = np.any((drops >= s0 - 3) & (drops <= e0 + 3))
            assert lost or e0 >= len(st) - 4, (g.file, p.port, int(s0), int(e0), len(st))
    assert runs > 100


def test_shield_states_are_grounded(corpus):
    shield_frames = 0
    for _, _, t in _tracks(corpus, need_airborne=True):
        m = A.is_shielding(t.state)
        shield_frames += int(m.sum())
        assert np.all(t.airborne[m] == 0)
    assert shield_frames > 1000


def _airborne_share(corpus, pred):
    per_state: dict[int, list[int]] = {}
    for _, _, t in _tracks(corpus, need_airborne=True):
        ok = ~np.isnan(t.state) & ~np.isnan(t.airborne)
        s, a = t.state[ok].astype(int), t.airborne[ok]
        m = pred(s)
        for st in np.unique(s[m]):
            k = s == st
            n, air = per_state.setdefault(int(st), [0, 0])
            per_state[int(st)] = [n + int(k.sum()), air + int((a[k] != 0).sum())]
    return per_state


def test_airborne_only_states_are_airborne(corpus):
    per_state = _airborne_share(corpus, A.is_airborne_only)
    n = sum(v[0] for v in per_state.values())
    air = sum(v[1] for v in per_state.values())
    assert n > 100_000
    assert air >= 0.95 * n, air / n
    for st, (k, a) in per_state.items():
        if k >= 100:
            assert a >= 0.9 * k, (A.action_name(st), a, k)


def test_grounded_only_states_are_grounded(corpus):
    per_state = _airborne_share(corpus, A.is_grounded_only)
    n = sum(v[0] for v in per_state.values())
    ground = sum(v[0] - v[1] for v in per_state.values())
    assert n > 100_000
    assert ground >= 0.95 * n, ground / n
    for st, (k, a) in per_state.items():
        if k >= 100:
            assert k - a >= 0.9 * k, (A.action_name(st), k - a, k)
