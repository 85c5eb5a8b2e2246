"""Character-specific action states (ids from 0x155 = 341 up): a name per character.

The same id means different things for different characters (341 is Fox's BLASTER_GROUND_START
and Marth's SHIELD_BREAKER_GROUND_START), so a name needs the *internal* character id
(`post.character`, `schema.characters`).

Sources
-------
* The SSBM Data Sheet, tabs "<character> action states" (character-specific action state lists,
  the game's own motion names: SpecialNStart, SpecialAirHi, ...), which the community tools copy:
* frankborden/slippilab `src/characters/<character>.ts` (`specialsMap`, from 341 per character),
* altf4/libmelee `melee/enums.py` class `Action`, whose ids above 0x154 agree with the lists below
  where they overlap (FIREFOX_WAIT_GROUND 0x161, DOWN_B_GROUND_START 0x168, SHINE_TURN 0x16C,
  SWORD_DANCE_2_MID 0x15F..., MARTH_COUNTER 0x171, MARTH_COUNTER_FALLING 0x173).

These lists were written down from the public sources above without network access to re-read
them, so each was then checked against the replay corpus: tests/schema/test_special_actions.py
asserts that a state named ..._AIR is airborne and one named ..._GROUND / ..._LANDING is grounded
in the real games (`post.airborne`), except the states in `LEAVES_GROUND`, whose ground version
takes off. Where the order could not be confirmed that way, a range of ids gets only the name of
its move (`FAMILIES`, shown as `ROLLOUT_0x15A`), and ids seen in the corpus whose meaning is not
known are listed in `UNKNOWN_SEEN` (shown as `SPECIAL_0x16A`). A wrong name misleads more than a
hex code, so unsure ids stay unknown.

Names use the moves' English names (FIRE_FOX for Fox, FIRE_BIRD for Falco) so that a player reads
them as the move, not as a data-sheet motion name.
"""

from __future__ import annotations

FIRST = 0x155  # 341, the first character-specific id (schema.actions.FIRST_SPECIAL_ACTION)

# internal character ids (schema.characters)
MARIO, FOX, FALCON, DK, KIRBY, BOWSER, LINK, SHEIK, NESS, PEACH, POPO, NANA = range(12)
PIKACHU, SAMUS, YOSHI, PUFF, MEWTWO, LUIGI, MARTH, ZELDA, YLINK, DOC, FALCO = range(12, 23)
PICHU, GAW, GANON, ROY, GIGA_BOWSER = 23, 24, 25, 26, 31


def _seq(start: int, *names: str) -> dict[int, str]:
    """Consecutive ids from `start`; an empty name leaves a gap (an id the sources do not name)."""
    return {start + k: n for k, n in enumerate(names) if n}


def _ground_air(move: str, *parts: str) -> tuple[str, ...]:
    """MOVE_GROUND_<part>... then MOVE_AIR_<part>...: the order the game lists most specials in."""
    def name(where: str, part: str) -> str:
        return f"{move}_{where}_{part}" if part else f"{move}_{where}"
    return tuple(name("GROUND", p) for p in parts) + tuple(name("AIR", p) for p in parts)


def _spacie(fire: str, illusion: str) -> dict[int, str]:
    return _seq(
        FIRST,
        *_ground_air("BLASTER", "START", "LOOP", "END"),  # 341..346
        *_ground_air(illusion, "START", "", "END"),  # 347..352
        f"{fire}_GROUND_START", f"{fire}_AIR_START", f"{fire}_GROUND", f"{fire}_AIR",  # 353..356
        f"{fire}_GROUND_LANDING", f"{fire}_AIR_END", f"{fire}_BOUNCE_END",  # 357..359
        *_ground_air("REFLECTOR", "START", "LOOP", "HIT", "END", "TURN"),  # 360..369
    )


def _falcon(punch: str, boost: str, dive: str, kick: str) -> dict[int, str]:
    return _seq(
        0x15B,  # 347
        f"{punch}_GROUND", f"{punch}_AIR",  # 347, 348
        f"{boost}_GROUND", f"{boost}_GROUND_HIT", f"{boost}_AIR", f"{boost}_AIR_HIT",  # 349..352
        f"{dive}_GROUND", f"{dive}_AIR", f"{dive}_CATCH", f"{dive}_END",  # 353..356
        f"{kick}_GROUND", f"{kick}_GROUND_LANDING", f"{kick}_AIR",  # 357..359
        f"{kick}_AIR_LANDING", f"{kick}_AIR_END", f"{kick}_GROUND_END_AIR", f"{kick}_HIT_WALL",  # 360..363
    )


def _fire_emblem(neutral: str, dance: str, up: str) -> dict[int, str]:
    return _seq(
        FIRST,
        *_ground_air(neutral, "START", "LOOP", "EARLY_RELEASE", "FULL"),  # 341..348
        f"{dance}_1_GROUND", f"{dance}_2_UP_GROUND", f"{dance}_2_SIDE_GROUND",  # 349..351
        f"{dance}_3_UP_GROUND", f"{dance}_3_SIDE_GROUND", f"{dance}_3_DOWN_GROUND",  # 352..354
        f"{dance}_4_UP_GROUND", f"{dance}_4_SIDE_GROUND", f"{dance}_4_DOWN_GROUND",  # 355..357
        f"{dance}_1_AIR", f"{dance}_2_UP_AIR", f"{dance}_2_SIDE_AIR",  # 358..360
        f"{dance}_3_UP_AIR", f"{dance}_3_SIDE_AIR", f"{dance}_3_DOWN_AIR",  # 361..363
        f"{dance}_4_UP_AIR", f"{dance}_4_SIDE_AIR", f"{dance}_4_DOWN_AIR",  # 364..366
        f"{up}_GROUND", f"{up}_AIR",  # 367, 368
        "COUNTER_GROUND", "COUNTER_GROUND_HIT", "COUNTER_AIR", "COUNTER_AIR_HIT",  # 369..372
    )


def _mario(fireball: str, cape: str, tornado: str) -> dict[int, str]:
    return _seq(
        0x157,  # 343
        f"{fireball}_GROUND", f"{fireball}_AIR", f"{cape}_GROUND", f"{cape}_AIR",  # 343..346
        "SUPER_JUMP_PUNCH_GROUND", "SUPER_JUMP_PUNCH_AIR", f"{tornado}_GROUND", f"{tornado}_AIR",
    )


def _koopa() -> dict[int, str]:
    return _seq(
        FIRST,
        *_ground_air("FIRE_BREATH", "START", "LOOP", "END"),  # 341..346
        *_ground_air("KOOPA_KLAW", "", "GRAB", "PUMMEL", "WAIT", "THROW_F", "THROW_B"),  # 347..358
        "WHIRLING_FORTRESS_GROUND", "WHIRLING_FORTRESS_AIR",  # 359, 360
        "BOWSER_BOMB_GROUND", "BOWSER_BOMB_AIR", "BOWSER_BOMB_LANDING",  # 361..363
    )


def _pika() -> dict[int, str]:
    return _seq(
        FIRST,
        "THUNDER_JOLT_GROUND", "THUNDER_JOLT_AIR",  # 341, 342
        *([""] * 10),  # 343..352: Skull Bash, see FAMILIES
        *_ground_air("QUICK_ATTACK", "START", "", "END"),  # 353..358
        *_ground_air("THUNDER", "START", "", "HIT", "END"),  # 359..366
    )


def _giant_punch() -> tuple[str, ...]:
    return _ground_air("GIANT_PUNCH", "CHARGE_START", "CHARGE_LOOP", "CHARGE_STOP", "EARLY", "FULL")


NAMES: dict[int, dict[int, str]] = {
    MARIO: _mario("FIREBALL", "CAPE", "MARIO_TORNADO"),
    DOC: _mario("MEGAVITAMIN", "SUPER_SHEET", "DR_TORNADO"),
    LUIGI: _seq(0x163, "SUPER_JUMP_PUNCH_GROUND", "SUPER_JUMP_PUNCH_AIR"),  # 355, 356
    FOX: _spacie("FIRE_FOX", "FOX_ILLUSION"),
    FALCO: _spacie("FIRE_BIRD", "FALCO_PHANTASM"),
    FALCON: _falcon("FALCON_PUNCH", "RAPTOR_BOOST", "FALCON_DIVE", "FALCON_KICK"),
    GANON: _falcon("WARLOCK_PUNCH", "GERUDO_DRAGON", "DARK_DIVE", "WIZARDS_FOOT"),
    MARTH: _fire_emblem("SHIELD_BREAKER", "DANCING_BLADE", "DOLPHIN_SLASH"),
    ROY: _fire_emblem("FLARE_BLADE", "DOUBLE_EDGE_DANCE", "BLAZER"),
    SHEIK: _seq(
        FIRST,
        *_ground_air("NEEDLE_STORM", "START", "LOOP", "END", "THROW"),  # 341..348
        *_ground_air("CHAIN", "START", "LOOP", "END"),  # 349..354
        *_ground_air("VANISH", "START", "DISAPPEAR", "REAPPEAR"),  # 355..360
        *_ground_air("TRANSFORM", "", "END"),  # 361..364
    ),
    ZELDA: _seq(
        FIRST,
        "NAYRUS_LOVE_GROUND", "NAYRUS_LOVE_AIR",  # 341, 342
        *([""] * 6),  # 343..348: Din's Fire, see FAMILIES
        *_ground_air("FARORES_WIND", "", "DISAPPEAR", "REAPPEAR"),  # 349..354
        *_ground_air("TRANSFORM", "", "END"),  # 355..358
    ),
    PEACH: _seq(
        FIRST,
        "FLOAT", "FLOAT_END_FORWARD", "FLOAT_END_BACKWARD",  # 341..343
        "FLOAT_NAIR", "FLOAT_FAIR", "FLOAT_BAIR", "FLOAT_UAIR", "FLOAT_DAIR",  # 344..348
        "FSMASH_GOLF_CLUB", "FSMASH_FRYING_PAN", "FSMASH_TENNIS_RACKET",  # 349..351
        "VEGETABLE_GROUND",  # 352 (turnip pull)
    ),
    PUFF: _seq(
        FIRST,
        "JUMP_AERIAL_2", "JUMP_AERIAL_3", "JUMP_AERIAL_4", "JUMP_AERIAL_5", "JUMP_AERIAL_6",
        *([""] * 17),  # 346..362: Rollout, see FAMILIES
        "POUND_GROUND", "POUND_AIR",  # 363, 364
        # each of Sing and Rest has two ground/air pairs (the two facings in the sources); which
        # pair is which facing was not checked, so they are numbered
        "SING_GROUND_1", "SING_AIR_1", "SING_GROUND_2", "SING_AIR_2",  # 365..368
        "REST_GROUND_1", "REST_AIR_1", "REST_GROUND_2", "REST_AIR_2",  # 369..372
    ),
    KIRBY: _seq(FIRST, "JUMP_AERIAL_2", "JUMP_AERIAL_3", "JUMP_AERIAL_4", "JUMP_AERIAL_5", "JUMP_AERIAL_6"),
    PIKACHU: _pika(),
    PICHU: _pika(),
    SAMUS: _seq(
        0x157,  # 343
        *_ground_air("CHARGE_SHOT", "START", "LOOP", "END", "FIRE")[:4],  # 343..346 ground
        "CHARGE_SHOT_AIR_START", "CHARGE_SHOT_AIR_FIRE",  # 347, 348
        "MISSILE_GROUND", "SUPER_MISSILE_GROUND", "MISSILE_AIR", "SUPER_MISSILE_AIR",  # 349..352
        "SCREW_ATTACK_GROUND", "SCREW_ATTACK_AIR",  # 353, 354
        "", "",  # 355, 356: Bomb, see FAMILIES
        "GRAPPLE_BEAM", "GRAPPLE_BEAM_CATCH",  # 357, 358 (z-air)
    ),
    BOWSER: _koopa(),
    GIGA_BOWSER: _koopa(),
    MEWTWO: _seq(
        0x15F,  # 351
        "CONFUSION_GROUND", "CONFUSION_AIR",
        *_ground_air("TELEPORT", "START", "", "END"),  # 353..358
        "DISABLE_GROUND", "DISABLE_AIR",  # 359, 360
    ),
    GAW: _seq(
        FIRST,
        "JAB", "JAB_2", "RAPID_JABS", "RAPID_JABS_END", "DOWN_TILT", "SIDE_SMASH",  # 341..346
        "NAIR", "BAIR", "UAIR", "NAIR_LANDING", "BAIR_LANDING", "UAIR_LANDING",  # 347..352
        "CHEF_GROUND", "CHEF_AIR",  # 353, 354
        *(f"JUDGEMENT_GROUND_{k}" for k in range(1, 10)),  # 355..363
        *(f"JUDGEMENT_AIR_{k}" for k in range(1, 10)),  # 364..372
    ),
    DK: _seq(
        0x171,  # 369
        *_giant_punch(),  # 369..378
        "HEADBUTT_GROUND", "HEADBUTT_AIR", "SPINNING_KONG_GROUND", "SPINNING_KONG_AIR",  # 379..382
        "HAND_SLAP_START", "HAND_SLAP_LOOP", "HAND_SLAP_END",  # 383..385
    ),
    POPO: _seq(FIRST, "ICE_SHOT_GROUND", "ICE_SHOT_AIR"),
    NANA: _seq(FIRST, "ICE_SHOT_GROUND", "ICE_SHOT_AIR"),
    YOSHI: {},
}

# (first id, last id, move): the move is known, the order of its states within the range is not.
FAMILIES: dict[int, tuple[tuple[int, int, str], ...]] = {
    PUFF: ((346, 362, "ROLLOUT"),),
    PIKACHU: ((343, 352, "SKULL_BASH"),),
    PICHU: ((343, 352, "SKULL_BASH"),),
    ZELDA: ((343, 348, "DINS_FIRE"),),
    SAMUS: ((341, 342, "BOMB"), (355, 356, "BOMB")),
    MEWTWO: ((341, 350, "SHADOW_BALL"),),
    LUIGI: ((345, 354, "GREEN_MISSILE"),),
    YOSHI: ((341, 345, "YOSHI_SHIELD"), (346, 355, "EGG_LAY")),
    POPO: ((343, 346, "SQUALL_HAMMER"), (347, 356, "BELAY")),
    NANA: ((343, 346, "SQUALL_HAMMER"), (347, 356, "BELAY")),
}

# Ground versions that take off: their ground state is airborne part of the time.
LEAVES_GROUND: dict[int, frozenset[int]] = {
    FALCON: frozenset({353}),  # FALCON_DIVE_GROUND
    GANON: frozenset({353}),  # DARK_DIVE_GROUND
    MARTH: frozenset({367}),  # DOLPHIN_SLASH_GROUND
    ROY: frozenset({367}),  # BLAZER_GROUND
    SAMUS: frozenset({353}),  # SCREW_ATTACK_GROUND
    MARIO: frozenset({347}), DOC: frozenset({347}), LUIGI: frozenset({355}),  # SUPER_JUMP_PUNCH_GROUND
    BOWSER: frozenset({361}), GIGA_BOWSER: frozenset({361}),  # BOWSER_BOMB_GROUND
}


def _ids(*parts: int | tuple[int, int]) -> frozenset[int]:
    out: set[int] = set()
    for p in parts:
        out.update(range(p[0], p[1] + 1) if isinstance(p, tuple) else (p,))
    return frozenset(out)


# Ids seen in ../shared/replays for which no source above gave a name this project could confirm.
UNKNOWN_SEEN: dict[int, frozenset[int]] = {
    DK: _ids((351, 356), 358, 367),
    KIRBY: _ids((346, 347), (351, 390), (399, 535)),
    LINK: _ids(357),
    NESS: _ids(341, (367, 373)),
    PEACH: _ids(354, 355, 357, 360, 363, 369, 370),
    NANA: _ids((357, 365)),
}


def special_name(action_id: int, character: int | None) -> str | None:
    """The name of a character-specific id for an internal character id, or None if unknown."""
    if character is None:
        return None
    i, ch = int(action_id), int(character)
    name = NAMES.get(ch, {}).get(i)
    if name is not None:
        return name
    for lo, hi, move in FAMILIES.get(ch, ()):
        if lo <= i <= hi:
            return f"{move}_0x{i:X}"
    return None


def is_listed_unknown(action_id: int, character: int) -> bool:
    return int(action_id) in UNKNOWN_SEEN.get(int(character), frozenset())


__all__ = ["FAMILIES", "LEAVES_GROUND", "NAMES", "UNKNOWN_SEEN", "is_listed_unknown", "special_name"]
