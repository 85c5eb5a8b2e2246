"""Character-specific action states (ids from 0x155 = 341 up): a name per character.

The same id means different things for different characters (341 is Fox's BLASTER_GROUND_START
and Marth's SHIELD_BREAKER_GROUND_START), so a name needs the *internal* character id
(`post.character`, `schema.characters`).

Sources (each list below was read through the code search and compared id by id)
-------------------------------------------------------------------------------
* **Names, every character but Giga Bowser**: hohav/ssbm-data `src/action_state.rs` (commit
  20b7fd33e89328e09b06dd6e2f2a710be90b9744), one enum per character (`Fox { BlasterGroundStartup =
  341, ... }`) generated from that repository's hand-written JSON; hohav/peppi
  `src/model/enums/action_state.rs` (commit 10e2732345df0e52451237d550513a0318bb0d3e) carries the
  same lists (`pseudo_enum!(Fox: u16 { 341 => BLASTER_GROUND_STARTUP, ... })`).
* **Order, second opinion**: frankborden/slippilab `src/characters/<character>.ts` (commit
  61e694465bd4b05a62c350889ff012e04c972574), `specialsMap`: the game's motion name that each id
  plays (SpecialNStart, SpecialAirHi, AppealSStartR, ...). Where both name an id they agree on
  the move and on ground / air, except three ids: Nana's 362 (slippilab NanaSpecialAirHiThrow,
  ssbm-data BelayGroundCatapultEnd: given only the move's name, see `FAMILIES`); Captain Falcon's
  and Ganondorf's 363 (slippilab borrows the up special's SpecialHiThrow to draw it; ssbm-data's
  FalconKickHitWall kept); Mr. Game & Watch's 342 (slippilab draws the jab, Attack11; ssbm-data's
  RapidJabsStart kept, as the corpus backs it: in slippi-js `slp/gnwActions.slp` the jab 341 goes
  to 342 for 3 frames, then 343 for 17, then 344: the rapid jab's start, loop and end).
* **Giga Bowser**: doldecomp/melee `src/melee/ft/chara/ftGigaKoopa/ftGk_Init.c` (commit
  0a1d706059fe6ab6e9c8cd5186b19a85383c812b): its motion-state table is Bowser's callbacks
  (ftKp_SpecialNStart_Anim ... ftKp_SpecialLwLanding_Anim) in the order of Bowser's own table,
  doldecomp/melee `src/melee/ft/chara/ftKoopa/ftKp_Init.c` (commit
  04b390f2ac19c52fa6217e732bef0ce7e5fb66c5, "ftKp_MS_SpecialNStart = 341" ... "= 363"), so Giga
  Bowser's 341..363 are Bowser's.

Names are ssbm-data's identifiers in upper snake case with STARTUP written START. Names this table
had before the check and that say the same thing are kept (REFLECTOR_GROUND_HIT for
ReflectorGroundReflect, FIRE_FOX_GROUND_LANDING for FireFoxGroundEnd, whose motion is
SpecialHiLanding; the moves' English names FIRE_FOX / FIRE_BIRD, FOX_ILLUSION / FALCO_PHANTASM);
tests/schema/test_special_actions.py lists, for a handful of ids per character, the source's
identifier next to the name used here.

Where the sources leave an id unnamed inside the block of one move (Luigi's 345 between his Green
Missile states, slippilab's "Unused"), the id gets only the move's name (`FAMILIES`, shown as
`GREEN_MISSILE_0x159`); other unnamed ids stay unknown (shown as `SPECIAL_0x155`): a wrong name
misleads more than a hex code. Ids seen in ../shared/replays without a name are listed in
`UNKNOWN_SEEN` (none at present).

Checked against the replay corpus as well: tests/schema/test_special_actions.py asserts that a
state named ..._AIR is airborne and one named ..._GROUND / ..._LANDING grounded in the real games
(`post.airborne`), except the ground states that take off (`LEAVES_GROUND`).
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
        # the taunt on Corneria / Venom (motions AppealSStartR, AppealSStartL, ...)
        "SMASH_TAUNT_RIGHT_START", "SMASH_TAUNT_LEFT_START", "SMASH_TAUNT_RIGHT_RISE",  # 370..372
        "SMASH_TAUNT_LEFT_RISE", "SMASH_TAUNT_RIGHT_FINISH", "SMASH_TAUNT_LEFT_FINISH",  # 373..375
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


def _luigi() -> dict[int, str]:
    return _seq(
        FIRST,
        "FIREBALL_GROUND", "FIREBALL_AIR",  # 341, 342
        "GREEN_MISSILE_GROUND_START", "GREEN_MISSILE_GROUND_CHARGE", "",  # 343..345 (345 unused)
        "GREEN_MISSILE_GROUND_LANDING", "GREEN_MISSILE_GROUND_TAKEOFF",  # 346, 347
        "GREEN_MISSILE_GROUND_TAKEOFF_MISFIRE",  # 348
        "GREEN_MISSILE_AIR_START", "GREEN_MISSILE_AIR_CHARGE", "GREEN_MISSILE_AIR",  # 349..351
        "GREEN_MISSILE_AIR_END", "GREEN_MISSILE_AIR_TAKEOFF", "GREEN_MISSILE_AIR_TAKEOFF_MISFIRE",
        "SUPER_JUMP_PUNCH_GROUND", "SUPER_JUMP_PUNCH_AIR", "CYCLONE_GROUND", "CYCLONE_AIR",  # 355..
    )


def _koopa() -> dict[int, str]:
    return _seq(
        FIRST,
        *_ground_air("FIRE_BREATH", "START", "LOOP", "END"),  # 341..346
        *_ground_air("KOOPA_KLAW", "", "GRAB", "PUMMEL", "WAIT", "THROW_F", "THROW_B"),  # 347..358
        "WHIRLING_FORTRESS_GROUND", "WHIRLING_FORTRESS_AIR",  # 359, 360
        "BOWSER_BOMB_GROUND", "BOWSER_BOMB_AIR", "BOWSER_BOMB_LANDING",  # 361..363
    )


def _pika(up: str) -> dict[int, str]:
    """Pikachu and Pichu: the same states; the up special is Quick Attack or Agility."""
    return _seq(
        FIRST,
        "THUNDER_JOLT_GROUND", "THUNDER_JOLT_AIR",  # 341, 342
        "SKULL_BASH_GROUND_START", "SKULL_BASH_GROUND_CHARGE", "",  # 343..345 (345 unnamed)
        "SKULL_BASH_GROUND_LANDING", "SKULL_BASH_GROUND_TAKEOFF",  # 346, 347
        "SKULL_BASH_AIR_START", "SKULL_BASH_AIR_CHARGE", "SKULL_BASH_AIR",  # 348..350
        "SKULL_BASH_AIR_END", "SKULL_BASH_AIR_TAKEOFF",  # 351, 352
        *_ground_air(up, "START", "", "END"),  # 353..358
        *_ground_air("THUNDER", "START", "", "HIT", "END"),  # 359..366
    )


def _link(bow: str, *taunts: str) -> dict[int, str]:
    """Link and Young Link (only Young Link has the taunts at 342, 343)."""
    return _seq(
        FIRST,
        "SIDE_SMASH_2", *(taunts or ("", "")),  # 341..343
        *_ground_air(bow, "CHARGE", "FULLY_CHARGED", "FIRE"),  # 344..349
        *_ground_air("BOOMERANG", "THROW", "CATCH", "THROW_EMPTY"),  # 350..355
        "SPIN_ATTACK_GROUND", "SPIN_ATTACK_AIR", "BOMB_GROUND", "BOMB_AIR",  # 356..359
        "ZAIR", "ZAIR_CATCH",  # 360, 361
    )


def _ness() -> dict[int, str]:
    return _seq(
        FIRST,
        "SIDE_SMASH", "UP_SMASH", "UP_SMASH_CHARGE", "UP_SMASH_CHARGED",  # 341..344
        "DOWN_SMASH", "DOWN_SMASH_CHARGE", "DOWN_SMASH_CHARGED",  # 345..347
        *_ground_air("PK_FLASH", "START", "CHARGE", "EXPLODE", "END"),  # 348..355
        "PK_FIRE_GROUND", "PK_FIRE_AIR",  # 356, 357
        *_ground_air("PK_THUNDER", "START", "", "END", "HIT"), "PK_THUNDER_AIR_HIT_WALL",  # 358..366
        "PSI_MAGNET_GROUND_START", "PSI_MAGNET_GROUND_LOOP", "PSI_MAGNET_GROUND_ABSORB",  # 367..369
        "PSI_MAGNET_GROUND_END", "",  # 370, 371 (unnamed; slippilab: "")
        "PSI_MAGNET_AIR_START", "PSI_MAGNET_AIR_LOOP", "PSI_MAGNET_AIR_ABSORB",  # 372..374
        "PSI_MAGNET_AIR_END",  # 375
    )


def _peach() -> dict[int, str]:
    return _seq(
        FIRST,
        "FLOAT", "FLOAT_END_FORWARD", "FLOAT_END_BACKWARD",  # 341..343
        "FLOAT_NAIR", "FLOAT_FAIR", "FLOAT_BAIR", "FLOAT_UAIR", "FLOAT_DAIR",  # 344..348
        "FSMASH_GOLF_CLUB", "FSMASH_FRYING_PAN", "FSMASH_TENNIS_RACKET",  # 349..351
        "VEGETABLE_GROUND", "VEGETABLE_AIR",  # 352, 353 (turnip pull)
        "BOMBER_GROUND_START", "BOMBER_GROUND_END", "",  # 354..356
        "BOMBER_AIR_START", "BOMBER_AIR_END", "BOMBER_AIR_HIT", "BOMBER_AIR",  # 357..360
        "PARASOL_GROUND_START", "", "PARASOL_AIR_START", "",  # 361..364
        "TOAD_GROUND", "TOAD_GROUND_ATTACK", "TOAD_AIR", "TOAD_AIR_ATTACK",  # 365..368
        "PARASOL_OPENING", "PARASOL_OPEN",  # 369, 370
    )


def _puff() -> dict[int, str]:
    return _seq(
        FIRST,
        "JUMP_AERIAL_2", "JUMP_AERIAL_3", "JUMP_AERIAL_4", "JUMP_AERIAL_5", "JUMP_AERIAL_6",
        "ROLLOUT_GROUND_START_CHARGE_RIGHT", "ROLLOUT_GROUND_START_CHARGE_LEFT",  # 346, 347
        "ROLLOUT_GROUND_CHARGE_LOOP", "ROLLOUT_GROUND_FULLY_CHARGED",  # 348, 349
        "ROLLOUT_GROUND_CHARGE_RELEASE", "ROLLOUT_GROUND_START_TURN",  # 350, 351
        "ROLLOUT_GROUND_END_RIGHT", "ROLLOUT_GROUND_END_LEFT",  # 352, 353
        "ROLLOUT_AIR_START_CHARGE_RIGHT", "ROLLOUT_AIR_START_CHARGE_LEFT",  # 354, 355
        "ROLLOUT_AIR_CHARGE_LOOP", "ROLLOUT_AIR_FULLY_CHARGED", "ROLLOUT_AIR_CHARGE_RELEASE",
        "",  # 359: unnamed
        "ROLLOUT_AIR_END_RIGHT", "ROLLOUT_AIR_END_LEFT", "ROLLOUT_HIT",  # 360..362
        "POUND_GROUND", "POUND_AIR",  # 363, 364
        "SING_GROUND_LEFT", "SING_AIR_LEFT", "SING_GROUND_RIGHT", "SING_AIR_RIGHT",  # 365..368
        "REST_GROUND_LEFT", "REST_AIR_LEFT", "REST_GROUND_RIGHT", "REST_AIR_RIGHT",  # 369..372
    )


def _kirby_own() -> dict[int, str]:
    """Kirby's own states, 341..398 (the gaps are unnamed in ssbm-data and "???" in slippilab)."""
    return _seq(
        FIRST,
        *(f"JUMP_AERIAL_{k}" for k in range(2, 7)),  # 341..345
        *(f"JUMP_AERIAL_{k}_WITH_HAT" for k in range(2, 7)),  # 346..350
        "DASH_ATTACK_GROUND", "DASH_ATTACK_AIR",  # 351, 352
        "SWALLOW_GROUND_START", "SWALLOW_GROUND_LOOP", "SWALLOW_GROUND_END",  # 353..355
        "SWALLOW_GROUND_CAPTURE", "", "SWALLOW_GROUND_CAPTURED",  # 356..358
        "SWALLOW_GROUND_CAPTURE_WAIT", "SWALLOW_CAPTURE_WALK_SLOW",  # 359, 360
        "SWALLOW_CAPTURE_WALK_MIDDLE", "SWALLOW_CAPTURE_WALK_FAST",  # 361, 362
        "SWALLOW_GROUND_CAPTURE_TURN", "SWALLOW_CAPTURE_JUMP_SQUAT", "SWALLOW_CAPTURE_JUMP",
        "SWALLOW_CAPTURE_LANDING", "SWALLOW_GROUND_DIGEST", "", "SWALLOW_GROUND_SPIT", "",  # ..370
        "SWALLOW_AIR_START", "SWALLOW_AIR_LOOP", "SWALLOW_AIR_END",  # 371..373
        "SWALLOW_AIR_CAPTURE", "", "SWALLOW_AIR_CAPTURED", "SWALLOW_AIR_CAPTURE_WAIT",  # 374..377
        "SWALLOW_AIR_DIGEST", "", "SWALLOW_AIR_SPIT", "", "SWALLOW_AIR_CAPTURE_TURN",  # 378..382
        "HAMMER_GROUND", "HAMMER_AIR",  # 383, 384
        "FINAL_CUTTER_GROUND_START", "", "", "FINAL_CUTTER_GROUND_END",  # 385..388
        "FINAL_CUTTER_AIR_START", "FINAL_CUTTER_AIR_APEX", "FINAL_CUTTER_SWORD_DESCENT",  # 389..391
        "FINAL_CUTTER_AIR_END",  # 392
        *_ground_air("STONE", "START", "", "END"),  # 393..398
    )


def _kirby_copies() -> dict[int, str]:
    """Kirby's copied neutral specials, 399..537 (slippilab: "399 - 537 are hat neutralBs")."""
    return _seq(
        399,
        "MARIO_FIREBALL_GROUND", "MARIO_FIREBALL_AIR",  # 399, 400
        *_ground_air("LINK_BOW", "CHARGE", "FULLY_CHARGED", "FIRE"),  # 401..406
        *_ground_air("SAMUS_CHARGE_SHOT", "START", "LOOP", "END", "FIRE")[:4],  # 407..410
        "SAMUS_CHARGE_SHOT_AIR_START", "SAMUS_CHARGE_SHOT_AIR_FIRE",  # 411, 412
        "YOSHI_EGG_LAY_GROUND", "YOSHI_EGG_LAY_GROUND_CAPTURE_START", "",  # 413..415
        "YOSHI_EGG_LAY_GROUND_CAPTURE", "", "YOSHI_EGG_LAY_AIR",  # 416..418
        "YOSHI_EGG_LAY_AIR_CAPTURE_START", "", "YOSHI_EGG_LAY_AIR_CAPTURE", "",  # 419..422
        *_ground_air("FOX_BLASTER", "START", "LOOP", "END"),  # 423..428
        "PIKACHU_THUNDER_JOLT_GROUND", "PIKACHU_THUNDER_JOLT_AIR",  # 429, 430
        "LUIGI_FIREBALL_GROUND", "LUIGI_FIREBALL_AIR",  # 431, 432
        "FALCON_FALCON_PUNCH_GROUND", "FALCON_FALCON_PUNCH_AIR",  # 433, 434
        *_ground_air("NESS_PK_FLASH", "START", "CHARGE", "EXPLODE", "END"),  # 435..442
        *_ground_air("BOWSER_FIRE_BREATH", "START", "LOOP", "END"),  # 443..448
        "PEACH_TOAD_GROUND", "PEACH_TOAD_GROUND_ATTACK", "PEACH_TOAD_AIR", "PEACH_TOAD_AIR_ATTACK",
        "ICE_CLIMBERS_ICE_SHOT_GROUND", "ICE_CLIMBERS_ICE_SHOT_AIR",  # 453, 454
        *_ground_air("DK_GIANT_PUNCH", "CHARGE_START", "CHARGE_LOOP", "CHARGE_STOP", "EARLY_PUNCH",
                     "FULL_CHARGE_PUNCH"),  # 455..464
        "ZELDA_NAYRUS_LOVE_GROUND", "ZELDA_NAYRUS_LOVE_AIR",  # 465, 466
        *_ground_air("SHEIK_NEEDLE_STORM", "START_CHARGE", "CHARGE_LOOP", "END_CHARGE", "FIRE"),
        *_puff_rollout_copy(),  # 475..491
        *_ground_air("MARTH_SHIELD_BREAKER", "START_CHARGE", "CHARGE_LOOP", "EARLY_RELEASE",
                     "FULLY_CHARGED"),  # 492..499
        *_ground_air("MEWTWO_SHADOW_BALL", "START_CHARGE", "CHARGE_LOOP", "FULLY_CHARGED",
                     "END_CHARGE", "FIRE"),  # 500..509
        # ssbm-data calls 510/511 GameandWatchOilPanic, but Kirby copies neutral specials only and
        # Mr. Game & Watch's is Chef (ssbm-data GameAndWatch ChefGround = 353; libmelee
        # ProjectileType KIRBY_SAUSAGE "Kirby copy Mr. Game & Watch's Sausage (B)")
        "GAME_AND_WATCH_CHEF_GROUND", "GAME_AND_WATCH_CHEF_AIR",  # 510, 511
        "DOC_MEGAVITAMIN_GROUND", "DOC_MEGAVITAMIN_AIR",  # 512, 513
        *_ground_air("YOUNG_LINK_FIRE_BOW", "CHARGE", "FULLY_CHARGED", "FIRE"),  # 514..519
        *_ground_air("FALCO_BLASTER", "START", "LOOP", "END"),  # 520..525
        "PICHU_THUNDER_JOLT_GROUND", "PICHU_THUNDER_JOLT_AIR",  # 526, 527
        "GANON_WARLOCK_PUNCH_GROUND", "GANON_WARLOCK_PUNCH_AIR",  # 528, 529
        *_ground_air("ROY_FLARE_BLADE", "START_CHARGE", "CHARGE_LOOP", "EARLY_RELEASE",
                     "FULLY_CHARGED"),  # 530..537
    )


def _puff_rollout_copy() -> tuple[str, ...]:
    """Kirby's copy of Rollout: Jigglypuff's 346..362 with a JIGGLYPUFF_ prefix (488 unnamed)."""
    puff = _puff()
    return tuple(f"JIGGLYPUFF_{puff[i]}" if i in puff else "" for i in range(346, 363))


def _popo() -> dict[int, str]:
    return _seq(
        FIRST,
        "ICE_SHOT_GROUND", "ICE_SHOT_AIR",  # 341, 342
        *_ground_air("SQUALL_HAMMER", "SOLO", "TOGETHER"),  # 343..346
        "BELAY_GROUND_START", "BELAY_GROUND_CATAPULTING_NANA", "",  # 347..349 (349 unnamed)
        "BELAY_GROUND_FAILED_CATAPULTING", "BELAY_GROUND_FAILED_CATAPULTING_END",  # 350, 351
        "BELAY_AIR_START", "BELAY_AIR_CATAPULTING_NANA", "BELAY_CATAPULTING",  # 352..354
        "BELAY_AIR_FAILED_CATAPULTING", "BELAY_AIR_FAILED_CATAPULTING_END",  # 355, 356
        "BLIZZARD_GROUND", "BLIZZARD_AIR",  # 357, 358
    )


def _nana() -> dict[int, str]:
    """Nana's own list is short: the rest of Popo's ids are not hers in the sources."""
    return {
        **_seq(FIRST, "ICE_SHOT_GROUND", "ICE_SHOT_AIR"),
        **_seq(357, "BLIZZARD_GROUND", "BLIZZARD_AIR", "SQUALL_HAMMER_GROUND_TOGETHER",
               "SQUALL_HAMMER_AIR_TOGETHER", "BELAY_CATAPULT_START",  # 357..361
               "", "", "", "BELAY_CATAPULTING"),  # 362..365: see FAMILIES
    }


def _yoshi() -> dict[int, str]:
    return _seq(
        0x156,  # 342 (341 is unnamed in ssbm-data; slippilab plays Guard)
        "SHIELD_HOLD", "SHIELD_RELEASE", "SHIELD_DAMAGE", "SHIELD_START",  # 342..345
        "EGG_LAY_GROUND", "EGG_LAY_GROUND_CAPTURE_START", "", "EGG_LAY_GROUND_CAPTURE", "",  # ..350
        "EGG_LAY_AIR", "EGG_LAY_AIR_CAPTURE_START", "", "EGG_LAY_AIR_CAPTURE", "",  # 351..355
        "EGG_ROLL_GROUND_START", "EGG_ROLL_GROUND", "EGG_ROLL_GROUND_CHANGE_DIRECTION",  # 356..358
        "EGG_ROLL_GROUND_END", "EGG_ROLL_AIR_START", "EGG_ROLL_AIR", "EGG_ROLL_BOUNCE",  # 359..362
        "EGG_ROLL_AIR_END", "EGG_THROW_GROUND", "EGG_THROW_AIR",  # 363..365
        "BOMB_GROUND", "BOMB_LAND", "BOMB_AIR",  # 366..368
    )


def _giant_punch() -> tuple[str, ...]:
    return _ground_air("GIANT_PUNCH", "CHARGE_START", "CHARGE_LOOP", "CHARGE_STOP", "EARLY", "FULL")


def _dk() -> dict[int, str]:
    return _seq(
        0x15F,  # 351: Kong Karry (carrying a grabbed opponent; motions ThrowFWait, ThrowFWalk...)
        "KONG_KARRY_WAIT", "KONG_KARRY_WALK_SLOW", "KONG_KARRY_WALK_MIDDLE",  # 351..353
        "KONG_KARRY_WALK_FAST", "KONG_KARRY_TURN", "KONG_KARRY_JUMP_SQUAT",  # 354..356
        "KONG_KARRY_FALL", "KONG_KARRY_JUMP", "KONG_KARRY_LANDING", "",  # 357..360 (360 unused)
        *_ground_air("KONG_KARRY", "THROW_FORWARD", "THROW_BACKWARD", "THROW_UP", "THROW_DOWN"),
        *_giant_punch(),  # 369..378
        "HEADBUTT_GROUND", "HEADBUTT_AIR", "SPINNING_KONG_GROUND", "SPINNING_KONG_AIR",  # 379..382
        "HAND_SLAP_START", "HAND_SLAP_LOOP", "HAND_SLAP_END",  # 383..385
    )


def _gaw() -> dict[int, str]:
    return _seq(
        FIRST,
        "JAB", "RAPID_JABS_START", "RAPID_JABS_LOOP", "RAPID_JABS_END",  # 341..344
        "DOWN_TILT", "SIDE_SMASH",  # 345, 346
        "NAIR", "BAIR", "UAIR", "NAIR_LANDING", "BAIR_LANDING", "UAIR_LANDING",  # 347..352
        "CHEF_GROUND", "CHEF_AIR",  # 353, 354
        *(f"JUDGEMENT_GROUND_{k}" for k in range(1, 10)),  # 355..363
        *(f"JUDGEMENT_AIR_{k}" for k in range(1, 10)),  # 364..372
        "FIRE_GROUND", "FIRE_AIR",  # 373, 374
        *_ground_air("OIL_PANIC", "", "ABSORB", "SPILL"),  # 375..380
    )


NAMES: dict[int, dict[int, str]] = {
    MARIO: _mario("FIREBALL", "CAPE", "MARIO_TORNADO"),
    # Dr. Mario's 341 is TauntR in ssbm-data (slippilab's map starts at 343); 342 is unnamed
    DOC: {FIRST: "TAUNT_R", **_mario("MEGAVITAMIN", "SUPER_SHEET", "DR_TORNADO")},
    LUIGI: _luigi(),
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
        *_ground_air("DINS_FIRE", "START", "TRAVEL", "EXPLODE"),  # 343..348
        *_ground_air("FARORES_WIND", "", "DISAPPEAR", "REAPPEAR"),  # 349..354
        *_ground_air("TRANSFORM", "", "END"),  # 355..358
    ),
    PEACH: _peach(),
    PUFF: _puff(),
    KIRBY: {**_kirby_own(), **_kirby_copies()},
    PIKACHU: _pika("QUICK_ATTACK"),
    PICHU: _pika("AGILITY"),
    SAMUS: _seq(
        FIRST,
        "BOMB_JUMP_GROUND", "BOMB_JUMP_AIR",  # 341, 342
        *_ground_air("CHARGE_SHOT", "START", "LOOP", "END", "FIRE")[:4],  # 343..346 ground
        "CHARGE_SHOT_AIR_START", "CHARGE_SHOT_AIR_FIRE",  # 347, 348
        "MISSILE_GROUND", "SUPER_MISSILE_GROUND", "MISSILE_AIR", "SUPER_MISSILE_AIR",  # 349..352
        "SCREW_ATTACK_GROUND", "SCREW_ATTACK_AIR",  # 353, 354
        "BOMB_END_GROUND", "BOMB_AIR",  # 355, 356
        "GRAPPLE_BEAM", "GRAPPLE_BEAM_CATCH",  # 357, 358 (z-air)
    ),
    BOWSER: _koopa(),
    GIGA_BOWSER: _koopa(),
    MEWTWO: _seq(
        FIRST,
        *_ground_air("SHADOW_BALL", "START_CHARGE", "CHARGE_LOOP", "FULLY_CHARGED", "END_CHARGE",
                     "FIRE"),  # 341..350
        "CONFUSION_GROUND", "CONFUSION_AIR",  # 351, 352
        *_ground_air("TELEPORT", "START", "DISAPPEAR", "REAPPEAR"),  # 353..358
        "DISABLE_GROUND", "DISABLE_AIR",  # 359, 360
    ),
    GAW: _gaw(),
    DK: _dk(),
    POPO: _popo(),
    NANA: _nana(),
    YOSHI: _yoshi(),
    LINK: _link("BOW"),
    YLINK: _link("FIRE_BOW", "TAUNT_R", "TAUNT_L"),
    NESS: _ness(),
}

# (first id, last id, move): ids the sources leave unnamed inside one move's block of states; they
# get the move's name and their hex id (GREEN_MISSILE_0x159), not a guessed state. A range may span
# named ids: `NAMES` is looked up first.
FAMILIES: dict[int, tuple[tuple[int, int, str], ...]] = {
    LUIGI: ((345, 345, "GREEN_MISSILE"),),  # slippilab: "Unused"
    PIKACHU: ((345, 345, "SKULL_BASH"),),  # slippilab: UNSUPPORTED
    PICHU: ((345, 345, "SKULL_BASH"),),
    PUFF: ((359, 359, "ROLLOUT"),),  # slippilab plays SpecialN (the roll)
    # slippilab: 356 Unsupported, 362 SpecialHiEnd, 364 SpecialAirHiEnd (unnamed in ssbm-data)
    PEACH: ((356, 356, "BOMBER"), (362, 362, "PARASOL"), (364, 364, "PARASOL")),
    YOSHI: ((348, 355, "EGG_LAY"),),  # 348, 350, 353, 355 (slippilab: "")
    DK: ((360, 360, "KONG_KARRY"),),  # slippilab: "unused"
    POPO: ((349, 349, "BELAY"),),
    # 362: ssbm-data BelayGroundCatapultEnd but slippilab NanaSpecialAirHiThrow (ground or air?)
    NANA: ((362, 364, "BELAY"),),
    NESS: ((371, 371, "PSI_MAGNET"),),
    # 357, 368, 370, 375, 379, 381 (slippilab "???"), 386, 387 (slippilab SpecialHi2, SpecialHi3),
    # 415, 417, 420, 422, 488
    KIRBY: ((357, 382, "SWALLOW"), (386, 387, "FINAL_CUTTER"), (415, 422, "YOSHI_EGG_LAY"),
            (488, 488, "JIGGLYPUFF_ROLLOUT")),
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


# Ids seen in ../shared/replays for which no source above gives a name ({character: frozenset of
# ids}). Empty: since the lists were completed from ssbm-data, every id the corpus shows is named.
UNKNOWN_SEEN: dict[int, frozenset[int]] = {}


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
