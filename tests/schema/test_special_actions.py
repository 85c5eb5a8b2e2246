"""The character-specific action names (`schema.specials`) against their source and the replays.

A handful of ids per character are compared with the identifiers of hohav/ssbm-data
`src/action_state.rs` (commit 20b7fd33e89328e09b06dd6e2f2a710be90b9744), copied here by hand.
Every action id a character takes in ../shared/replays must have a name or be listed as unknown,
and a name that says where the character is (..._AIR, ..._GROUND, ..._LANDING) must agree with
the replays' own airborne flag: a list written in the wrong order fails here.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np
import pytest

from dreamland.schema import actions as A
from dreamland.schema import characters as C
from dreamland.schema import specials as SP

MIN_FRAMES = 20  # a state seen fewer times says too little about where it happens
AIR_SHARE = 0.8  # a named AIR state is airborne in at least this share of its frames (and GROUND at most 1 - it)


def _column(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)


def _count(path: Path, seen: dict, airborne: dict) -> None:
    import peppi_py

    try:
        game = peppi_py.read_slippi(str(path))
    except KeyboardInterrupt:
        raise
    except BaseException:  # peppi raises pyo3 PanicException (a BaseException) on bad files
        return
    for port in game.frames.ports:
        for data in (port.leader, port.follower):
            if data is None:
                continue
            ch, st = _column(data.post.character), _column(data.post.state)
            air = None if data.post.airborne is None else _column(data.post.airborne)
            keep = ~np.isnan(ch) & ~np.isnan(st) & (st >= A.FIRST_SPECIAL_ACTION)
            for k in np.flatnonzero(keep):
                key = (int(ch[k]), int(st[k]))
                seen[key] += 1
                if air is not None and not np.isnan(air[k]):
                    airborne[key][int(air[k] != 0)] += 1


@pytest.fixture(scope="module")
def special_states(replays_dir):
    """{(internal character, action id): frames} and {(..): [grounded, airborne] frames}."""
    seen: dict = collections.Counter()
    airborne: dict = collections.defaultdict(lambda: [0, 0])
    for path in sorted(replays_dir.glob("*.slp")):
        _count(path, seen, airborne)
    if len(seen) < 100:
        pytest.skip(f"only {len(seen)} character-specific states in the corpus")
    return seen, airborne


def test_every_special_state_seen_has_a_name_or_is_listed_unknown(special_states):
    seen, _ = special_states
    missing = sorted((C.name_of_internal(ch), a, f"0x{a:X}") for ch, a in seen
                     if SP.special_name(a, ch) is None and not SP.is_listed_unknown(a, ch))
    assert not missing, missing
    named = sum(1 for ch, a in seen if SP.special_name(a, ch) is not None)
    assert named >= len(seen) // 2, (named, len(seen))


def test_unknown_lists_hold_only_unnamed_states_that_occur(special_states):
    seen, _ = special_states
    for ch, ids in SP.UNKNOWN_SEEN.items():
        for a in ids:
            assert SP.special_name(a, ch) is None, (C.name_of_internal(ch), a)
    listed = {(ch, a) for ch, ids in SP.UNKNOWN_SEEN.items() for a in ids}
    assert len(listed & set(seen)) >= 0.5 * len(listed)  # a list of real states, not a blanket


def _where(name: str) -> str | None:
    """'air' or 'ground' from the last of AIR / GROUND / LANDING in the name, else None."""
    for token in reversed(name.split("_")):
        if token == "AIR":
            return "air"
        if token in ("GROUND", "LANDING"):
            return "ground"
    return None


def test_named_air_and_ground_states_match_the_airborne_flag(special_states):
    _, airborne = special_states
    checked, wrong = 0, []
    for (ch, a), (ground, air) in sorted(airborne.items()):
        name = SP.special_name(a, ch)
        where = _where(name) if name else None
        if where is None or ground + air < MIN_FRAMES or a in SP.LEAVES_GROUND.get(ch, ()):
            continue
        share = air / (ground + air)
        checked += 1
        if (where == "air" and share < AIR_SHARE) or (where == "ground" and share > 1 - AIR_SHARE):
            wrong.append((C.name_of_internal(ch), a, name, round(share, 2)))
    assert not wrong, wrong
    assert checked >= 200, checked  # 243 named states with enough frames when last counted


def test_names_differ_by_character():
    fox, falco, marth = (C.external_to_internal(C.external_character_id(n)) for n in ("fox", "falco", "marth"))
    assert A.action_name(0x15E, fox) == "FOX_ILLUSION_AIR_START"
    assert A.action_name(0x15E, falco) == "FALCO_PHANTASM_AIR_START"
    assert A.action_name(0x15E, marth) == "DANCING_BLADE_2_UP_GROUND"
    assert A.action_name(0x168, fox) == "REFLECTOR_GROUND_START"
    assert A.action_name(0x15E) == "SPECIAL_0x15E"  # no character: generic
    kirby = C.external_to_internal(C.external_character_id("kirby"))
    assert A.action_name(0x180, kirby) == "HAMMER_AIR"
    assert A.action_name(0x21A, kirby) == "SPECIAL_0x21A"  # past the last id the sources name (537)
    assert A.action_name(14, fox) == "STANDING"  # common states do not depend on the character


def test_play_state_names_specials_by_character():
    from dreamland.play.state import PlayerState

    p = PlayerState(0, True, {"action": 0x168, "character": 1})
    assert p.action_name == "REFLECTOR_GROUND_START"
    # the model's 399 is "any id >= 399", not Kirby's MARIO_FIREBALL_GROUND
    kirby = C.external_to_internal(C.external_character_id("kirby"))
    unknown = PlayerState(0, True, {"action": A.UNKNOWN_ACTION, "character": kirby})
    assert unknown.action_name == "SPECIAL_0x18F"


# (character, id, ssbm-data identifier, the name here where it is not the identifier in upper snake
# case with Startup written START). Identifiers copied by hand from hohav/ssbm-data
# src/action_state.rs at commit 20b7fd33e89328e09b06dd6e2f2a710be90b9744 (one enum per character).
SSBM_DATA = [
    ("Fox", 0x155, "BlasterGroundStartup", None),
    ("Fox", 0x15E, "IllusionStartupAir", "FOX_ILLUSION_AIR_START"),
    ("Fox", 0x161, "FireFoxGroundStartup", None),
    ("Fox", 0x16C, "ReflectorGroundChangeDirection", "REFLECTOR_GROUND_TURN"),
    ("Fox", 375, "SmashTauntLeftFinish", None),
    ("Falco", 0x15E, "PhantasmStartupAir", "FALCO_PHANTASM_AIR_START"),
    ("Falco", 356, "FireBirdAir", None),
    ("Falco", 362, "ReflectorGroundReflect", "REFLECTOR_GROUND_HIT"),
    ("Marth", 0x15E, "DancingBlade2UpGround", None),
    ("Marth", 367, "DolphinSlashGround", None),
    ("Marth", 0x171, "CounterGround", None),
    ("Roy", 349, "DoubleEdgeDance1Ground", None),
    ("Roy", 368, "BlazerAir", None),
    ("Captain Falcon", 347, "FalconPunchGround", None),
    ("Captain Falcon", 355, "FalconDiveCatch", None),
    ("Captain Falcon", 361, "FalconKickAirEndingInAir", "FALCON_KICK_AIR_END"),
    ("Ganondorf", 348, "WarlockPunchAir", None),
    ("Ganondorf", 363, "WizardsFootHitWall", None),
    ("Mario", 343, "FireballGround", None),
    ("Mario", 350, "TornadoAir", "MARIO_TORNADO_AIR"),
    ("Dr. Mario", 341, "TauntR", None),
    ("Dr. Mario", 343, "MegavitaminGround", None),
    ("Luigi", 343, "GreenMissileGroundStartup", None),
    ("Luigi", 351, "GreenMissileAir", None),
    ("Luigi", 357, "CycloneGround", None),
    ("Donkey Kong", 351, "KongKarryWait", None),
    ("Donkey Kong", 367, "KongKarryAirThrowUp", None),
    ("Donkey Kong", 373, "GiantPunchGroundFullChargePunch", "GIANT_PUNCH_GROUND_FULL"),
    ("Donkey Kong", 382, "SpinningKongAir", None),
    ("Kirby", 341, "Jump2", "JUMP_AERIAL_2"),
    ("Kirby", 367, "SwallowGroundDigest", None),
    ("Kirby", 384, "HammerAir", None),
    ("Kirby", 399, "MarioFireballGround", None),
    ("Kirby", 423, "FoxBlasterGroundStartup", None),
    ("Kirby", 491, "JigglypuffRolloutHit", None),
    # Kirby copies neutral specials only, and Mr. Game & Watch's is Chef (see schema/specials.py)
    ("Kirby", 510, "GameandWatchOilPanicGround", "GAME_AND_WATCH_CHEF_GROUND"),
    ("Kirby", 537, "RoyFlareBladeAirFullyCharged", None),
    ("Bowser", 341, "FireBreathGroundStartup", None),
    ("Bowser", 350, "KoopaKlawGroundWait", None),
    ("Bowser", 361, "BombGroundBegin", "BOWSER_BOMB_GROUND"),
    ("Link", 341, "SideSmash2", None),
    ("Link", 357, "SpinAttackAir", None),
    ("Link", 361, "ZairCatch", None),
    ("Young Link", 342, "TauntR", None),
    ("Young Link", 344, "FireBowGroundCharge", None),
    ("Young Link", 359, "BombAir", None),
    ("Sheik", 344, "NeedleStormGroundFire", "NEEDLE_STORM_GROUND_THROW"),
    ("Sheik", 356, "VanishGroundDisappear", None),
    ("Sheik", 363, "TransformAir", None),
    ("Zelda", 341, "NayrusLoveGround", None),
    ("Zelda", 344, "DinsFireGroundTravel", None),
    ("Zelda", 354, "FaroresWindAirReappear", None),
    ("Ness", 341, "SideSmash", None),
    ("Ness", 361, "PkThunderGroundHit", None),
    ("Ness", 368, "PsiMagnetGroundLoop", None),
    ("Ness", 375, "PsiMagnetAirEnd", None),
    ("Peach", 341, "Float", None),
    ("Peach", 349, "SideSmashGolfClub", "FSMASH_GOLF_CLUB"),
    ("Peach", 354, "BomberGroundStartup", None),
    ("Peach", 369, "ParasolOpening", None),
    ("Popo", 343, "SquallHammerGroundSolo", None),
    ("Popo", 354, "BelayCatapulting", None),
    ("Popo", 358, "BlizzardAir", None),
    ("Nana", 341, "IceShotGround", None),
    ("Nana", 359, "SquallHammerGroundTogether", None),
    ("Nana", 365, "BelayCatapulting", None),
    ("Pikachu", 343, "SkullBashGroundStartup", None),
    ("Pikachu", 354, "QuickAttackGround", None),
    ("Pikachu", 365, "ThunderAirHit", None),
    ("Pichu", 347, "SkullBashGroundTakeoff", None),
    ("Pichu", 354, "AgilityGround", None),
    ("Pichu", 366, "ThunderAirEnd", None),
    ("Samus", 341, "BombJumpGround", None),
    ("Samus", 346, "ChargeShotGroundFire", None),
    ("Samus", 350, "MissileSmashGround", "SUPER_MISSILE_GROUND"),
    ("Samus", 357, "Zair", "GRAPPLE_BEAM"),
    ("Yoshi", 342, "ShieldHold", None),
    ("Yoshi", 346, "EggLayGround", None),
    ("Yoshi", 362, "EggRollBounce", None),
    ("Yoshi", 367, "BombLand", None),
    ("Jigglypuff", 341, "Jump2", "JUMP_AERIAL_2"),
    ("Jigglypuff", 350, "RolloutGroundChargeRelease", None),
    ("Jigglypuff", 363, "PoundGround", None),
    ("Jigglypuff", 369, "RestGroundLeft", None),
    ("Mewtwo", 341, "ShadowBallGroundStartCharge", None),
    ("Mewtwo", 354, "TeleportGroundDisappear", None),
    ("Mewtwo", 360, "DisableAir", None),
    ("Mr. Game & Watch", 342, "RapidJabsStart", None),
    ("Mr. Game & Watch", 355, "Judgment1Ground", "JUDGEMENT_GROUND_1"),
    ("Mr. Game & Watch", 373, "FireGround", None),
    ("Mr. Game & Watch", 380, "OilPanicAirSpill", None),
]


def _upper_snake(identifier: str) -> str:
    """BlasterGroundStartup -> BLASTER_GROUND_START (the house rule of schema/specials.py)."""
    words = re.findall(r"[A-Z][a-z]*|\d+", identifier)
    return "_".join(w.upper() for w in words).replace("STARTUP", "START")


def test_names_agree_with_ssbm_data():
    internal = {C.name_of_internal(i): i for i in range(C.NUM_INTERNAL)}
    wrong = []
    for who, action, source, ours in SSBM_DATA:
        want = ours or _upper_snake(source)
        got = SP.special_name(action, internal[who])
        if got != want:
            wrong.append((who, action, source, want, got))
    assert not wrong, wrong
    assert len({who for who, *_ in SSBM_DATA}) == 27  # every character ssbm-data lists, Nana included


def test_giga_bowser_has_bowsers_states():
    """doldecomp/melee src/melee/ft/chara/ftGigaKoopa/ftGk_Init.c (commit
    0a1d706059fe6ab6e9c8cd5186b19a85383c812b): Giga Bowser's motion-state table is Bowser's
    callbacks, ftKp_SpecialNStart_Anim ... ftKp_SpecialLwLanding_Anim, in Bowser's order."""
    internal = {C.name_of_internal(i): i for i in range(C.NUM_INTERNAL)}
    giga, bowser = SP.NAMES[internal["Giga Bowser"]], SP.NAMES[internal["Bowser"]]
    assert giga == bowser and min(giga) == 341 and max(giga) == 363
