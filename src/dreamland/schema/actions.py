"""Melee action states: names, categories, a fixed model vocabulary, and predicates.

Every Slippi post-frame carries the player's action state (`post.state`, uint16). Ids 0..0x154
(0..340) are *common* states with the same meaning for every character; ids from 0x155 (341) up
are *character-specific* (specials, Kirby's copy abilities...), whose meaning depends on the
character (e.g. libmelee names 0x15E..0x164 FOX_ILLUSION_START..FIREFOX_AIR for Fox but
SWORD_DANCE_2_HIGH..SWORD_DANCE_4_MID for Marth).

Sources (read through the code search, not from memory):

* names of the common states 0..0x154: libmelee `melee/enums.py` class `Action` (repo
  altf4/libmelee), the brief's reference, kept verbatim including its spellings
  (JUMPING_ARIAL_FORWARD, BUMP_CIELING, WARP_STAP_FALL) so they can be grepped against libmelee.
* a second name for each (`datasheet_name`): py-slippi `slippi/id.py` class `ActionState`
  (repo hohav/py-slippi, installed as py-slippi 1.6.2), which takes the game's own animation names
  (GUARD_ON, CLIFF_WAIT, ESCAPE_AIR, ...) from the SSBM Data Sheet. The two sources agree on the
  meaning of every id 0..0x154 (they differ only in spelling; libmelee's item-swing names
  *_SWING_1..4 are the data sheet's *_SWING_1, _3, _4, _DASH).
* the boundary 0x155 = 341 for character-specific states: frankborden/slippilab
  `src/characters/*.ts`, whose `specialsMap` starts at 341 for every character, and libmelee's
  first character-specific names (LASER_GUN_PULL 0x155, NEUTRAL_B_CHARGING 0x156, ...).
* death directions 0..10: slippi-js `src/melee/animations.ts` `getDeathDirection` (ids > 0xa are
  not deaths; 0 down, 1 left, 2 right, others up), matching libmelee DEAD_DOWN..DEAD_FLY_SPLATTER_
  FLAT_ICE.

Names above 0x154 depend on the character: `schema.specials` (sources cited there); without a
character, or where no name is known, they are generic: `SPECIAL_0x16A`.

Model vocabulary
----------------
`ACTION_VOCAB = 400` ids. `action_to_vocab` keeps ids 0..398 and maps every id >= 399 (and any
negative or missing id) to `UNKNOWN_ACTION = 399`. Ids 399.. are all character-specific (mostly
Kirby's copied specials), so nothing common is lost; a real state 399 shares the unknown id.

Categories and predicates
-------------------------
`ActionCategory` groups the common ids by what the character is doing (the ranges are below, by
reading the names). The airborne-only and grounded-only sets are chosen from the names (AIR, FALL,
JUMP, FLY vs. WAIT, WALK, DASH, SQUAT, GUARD, DOWN, CATCH...) and checked against the replay corpus
in tests/schema/test_game_facts.py: over all frames, the airborne-only states have
`post.airborne == 1` in >= 95% of frames and the grounded-only states `airborne == 0` in >= 95%.
States whose airborne flag depends on the situation (DAMAGE_HIGH/N/LOW_*, DOWN_BOUND_*, THROWN_*,
the ledge states, dead/respawn/entry) are in neither set. Measured on the corpus, the dead,
respawn (halo), entry and ledge-hanging states all have airborne == 1.

Plain Python; numpy is imported lazily by the functions that take arrays.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from dreamland.schema.specials import special_name

ACTION_VOCAB = 400
UNKNOWN_ACTION = ACTION_VOCAB - 1  # 399
NUM_COMMON_ACTIONS = 0x155  # ids 0..0x154 mean the same for every character
FIRST_SPECIAL_ACTION = 0x155  # 341: first character-specific id

_LIBMELEE_NAMES: tuple[str, ...] = (
    "DEAD_DOWN", "DEAD_LEFT", "DEAD_RIGHT", "DEAD_UP", "DEAD_FLY_STAR",  # 0x000
    "DEAD_FLY_STAR_ICE", "DEAD_FLY", "DEAD_FLY_SPLATTER", "DEAD_FLY_SPLATTER_FLAT",  # 0x005
    "DEAD_FLY_SPLATTER_ICE", "DEAD_FLY_SPLATTER_FLAT_ICE", "NOTHING_STATE",  # 0x009
    "ON_HALO_DESCENT", "ON_HALO_WAIT", "STANDING", "WALK_SLOW", "WALK_MIDDLE",  # 0x00C
    "WALK_FAST", "TURNING", "TURNING_RUN", "DASHING", "RUNNING", "RUN_DIRECT",  # 0x011
    "RUN_BRAKE", "KNEE_BEND", "JUMPING_FORWARD", "JUMPING_BACKWARD",  # 0x017
    "JUMPING_ARIAL_FORWARD", "JUMPING_ARIAL_BACKWARD", "FALLING", "FALLING_FORWARD",  # 0x01B
    "FALLING_BACKWARD", "FALLING_AERIAL", "FALLING_AERIAL_FORWARD",  # 0x01F
    "FALLING_AERIAL_BACKWARD", "DEAD_FALL", "SPECIAL_FALL_FORWARD", "SPECIAL_FALL_BACK",  # 0x022
    "TUMBLING", "CROUCH_START", "CROUCHING", "CROUCH_END", "LANDING", "LANDING_SPECIAL",  # 0x026
    "NEUTRAL_ATTACK_1", "NEUTRAL_ATTACK_2", "NEUTRAL_ATTACK_3", "LOOPING_ATTACK_START",  # 0x02C
    "LOOPING_ATTACK_MIDDLE", "LOOPING_ATTACK_END", "DASH_ATTACK", "FTILT_HIGH",  # 0x030
    "FTILT_HIGH_MID", "FTILT_MID", "FTILT_LOW_MID", "FTILT_LOW", "UPTILT", "DOWNTILT",  # 0x034
    "FSMASH_HIGH", "FSMASH_MID_HIGH", "FSMASH_MID", "FSMASH_MID_LOW", "FSMASH_LOW",  # 0x03A
    "UPSMASH", "DOWNSMASH", "NAIR", "FAIR", "BAIR", "UAIR", "DAIR", "NAIR_LANDING",  # 0x03F
    "FAIR_LANDING", "BAIR_LANDING", "UAIR_LANDING", "DAIR_LANDING", "DAMAGE_HIGH_1",  # 0x047
    "DAMAGE_HIGH_2", "DAMAGE_HIGH_3", "DAMAGE_NEUTRAL_1", "DAMAGE_NEUTRAL_2",  # 0x04C
    "DAMAGE_NEUTRAL_3", "DAMAGE_LOW_1", "DAMAGE_LOW_2", "DAMAGE_LOW_3", "DAMAGE_AIR_1",  # 0x050
    "DAMAGE_AIR_2", "DAMAGE_AIR_3", "DAMAGE_FLY_HIGH", "DAMAGE_FLY_NEUTRAL",  # 0x055
    "DAMAGE_FLY_LOW", "DAMAGE_FLY_TOP", "DAMAGE_FLY_ROLL", "ITEM_PICKUP_LIGHT",  # 0x059
    "ITEM_PICKUP_HEAVY", "ITEM_THROW_LIGHT_FORWARD", "ITEM_THROW_LIGHT_BACK",  # 0x05D
    "ITEM_THROW_LIGHT_HIGH", "ITEM_THROW_LIGHT_LOW", "ITEM_THROW_LIGHT_DASH",  # 0x060
    "ITEM_THROW_LIGHT_DROP", "ITEM_THROW_LIGHT_AIR_FORWARD", "ITEM_THROW_LIGHT_AIR_BACK",  # 0x063
    "ITEM_THROW_LIGHT_AIR_HIGH", "ITEM_THROW_LIGHT_AIR_LOW", "ITEM_THROW_HEAVY_FORWARD",  # 0x066
    "ITEM_THROW_HEAVY_BACK", "ITEM_THROW_HEAVY_HIGH", "ITEM_THROW_HEAVY_LOW",  # 0x069
    "ITEM_THROW_LIGHT_SMASH_FORWARD", "ITEM_THROW_LIGHT_SMASH_BACK",  # 0x06C
    "ITEM_THROW_LIGHT_SMASH_UP", "ITEM_THROW_LIGHT_SMASH_DOWN",  # 0x06E
    "ITEM_THROW_LIGHT_AIR_SMASH_FORWARD", "ITEM_THROW_LIGHT_AIR_SMASH_BACK",  # 0x070
    "ITEM_THROW_LIGHT_AIR_SMASH_HIGH", "ITEM_THROW_LIGHT_AIR_SMASH_LOW",  # 0x072
    "ITEM_THROW_HEAVY_AIR_SMASH_FORWARD", "ITEM_THROW_HEAVY_AIR_SMASH_BACK",  # 0x074
    "ITEM_THROW_HEAVY_AIR_SMASH_HIGH", "ITEM_THROW_HEAVY_AIR_SMASH_LOW",  # 0x076
    "BEAM_SWORD_SWING_1", "BEAM_SWORD_SWING_2", "BEAM_SWORD_SWING_3",  # 0x078
    "BEAM_SWORD_SWING_4", "BAT_SWING_1", "BAT_SWING_2", "BAT_SWING_3", "BAT_SWING_4",  # 0x07B
    "PARASOL_SWING_1", "PARASOL_SWING_2", "PARASOL_SWING_3", "PARASOL_SWING_4",  # 0x080
    "FAN_SWING_1", "FAN_SWING_2", "FAN_SWING_3", "FAN_SWING_4", "STAR_ROD_SWING_1",  # 0x084
    "STAR_ROD_SWING_2", "STAR_ROD_SWING_3", "STAR_ROD_SWING_4", "LIP_STICK_SWING_1",  # 0x089
    "LIP_STICK_SWING_2", "LIP_STICK_SWING_3", "LIP_STICK_SWING_4", "ITEM_PARASOL_OPEN",  # 0x08D
    "ITEM_PARASOL_FALL", "ITEM_PARASOL_FALL_SPECIAL", "ITEM_PARASOL_DAMAGE_FALL",  # 0x091
    "GUN_SHOOT", "GUN_SHOOT_AIR", "GUN_SHOOT_EMPTY", "GUN_SHOOT_AIR_EMPTY",  # 0x094
    "FIRE_FLOWER_SHOOT", "FIRE_FLOWER_SHOOT_AIR", "ITEM_SCREW", "ITEM_SCREW_AIR",  # 0x098
    "DAMAGE_SCREW", "DAMAGE_SCREW_AIR", "ITEM_SCOPE_START", "ITEM_SCOPE_RAPID",  # 0x09C
    "ITEM_SCOPE_FIRE", "ITEM_SCOPE_END", "ITEM_SCOPE_AIR_START", "ITEM_SCOPE_AIR_RAPID",  # 0x0A0
    "ITEM_SCOPE_AIR_FIRE", "ITEM_SCOPE_AIR_END", "ITEM_SCOPE_START_EMPTY",  # 0x0A4
    "ITEM_SCOPE_RAPID_EMPTY", "ITEM_SCOPE_FIRE_EMPTY", "ITEM_SCOPE_END_EMPTY",  # 0x0A7
    "ITEM_SCOPE_AIR_START_EMPTY", "ITEM_SCOPE_AIR_RAPID_EMPTY",  # 0x0AA
    "ITEM_SCOPE_AIR_FIRE_EMPTY", "ITEM_SCOPE_AIR_END_EMPTY", "LIFT_WAIT", "LIFT_WALK_1",  # 0x0AC
    "LIFT_WALK_2", "LIFT_TURN", "SHIELD_START", "SHIELD", "SHIELD_RELEASE", "SHIELD_STUN",  # 0x0B0
    "SHIELD_REFLECT", "TECH_MISS_UP", "LYING_GROUND_UP", "LYING_GROUND_UP_HIT",  # 0x0B6
    "GROUND_GETUP", "GROUND_ATTACK_UP", "GROUND_ROLL_FORWARD_UP",  # 0x0BA
    "GROUND_ROLL_BACKWARD_UP", "GROUND_SPOT_UP", "TECH_MISS_DOWN", "LYING_GROUND_DOWN",  # 0x0BD
    "DAMAGE_GROUND", "NEUTRAL_GETUP", "GETUP_ATTACK", "GROUND_ROLL_FORWARD_DOWN",  # 0x0C1
    "GROUND_ROLL_BACKWARD_DOWN", "GROUND_ROLL_SPOT_DOWN", "NEUTRAL_TECH", "FORWARD_TECH",  # 0x0C5
    "BACKWARD_TECH", "WALL_TECH", "WALL_TECH_JUMP", "CEILING_TECH", "SHIELD_BREAK_FLY",  # 0x0C9
    "SHIELD_BREAK_FALL", "SHIELD_BREAK_DOWN_U", "SHIELD_BREAK_DOWN_D",  # 0x0CE
    "SHIELD_BREAK_STAND_U", "SHIELD_BREAK_STAND_D", "SHIELD_BREAK_TEETER", "GRAB",  # 0x0D1
    "GRAB_PULLING", "GRAB_RUNNING", "GRAB_RUNNING_PULLING", "GRAB_WAIT", "GRAB_PUMMEL",  # 0x0D5
    "GRAB_BREAK", "THROW_FORWARD", "THROW_BACK", "THROW_UP", "THROW_DOWN",  # 0x0DA
    "GRAB_PULLING_HIGH", "GRABBED_WAIT_HIGH", "PUMMELED_HIGH", "GRAB_PULL", "GRABBED",  # 0x0DF
    "GRAB_PUMMELED", "GRAB_ESCAPE", "GRAB_JUMP", "GRAB_NECK", "GRAB_FOOT", "ROLL_FORWARD",  # 0x0E4
    "ROLL_BACKWARD", "SPOTDODGE", "AIRDODGE", "REBOUND_STOP", "REBOUND", "THROWN_FORWARD",  # 0x0EA
    "THROWN_BACK", "THROWN_UP", "THROWN_DOWN", "THROWN_DOWN_2", "PLATFORM_DROP",  # 0x0F0
    "EDGE_TEETERING_START", "EDGE_TEETERING", "BOUNCE_WALL", "BOUNCE_CEILING",  # 0x0F5
    "BUMP_WALL", "BUMP_CIELING", "SLIDING_OFF_EDGE", "EDGE_CATCHING", "EDGE_HANGING",  # 0x0F9
    "EDGE_GETUP_SLOW", "EDGE_GETUP_QUICK", "EDGE_ATTACK_SLOW", "EDGE_ATTACK_QUICK",  # 0x0FE
    "EDGE_ROLL_SLOW", "EDGE_ROLL_QUICK", "EDGE_JUMP_1_SLOW", "EDGE_JUMP_2_SLOW",  # 0x102
    "EDGE_JUMP_1_QUICK", "EDGE_JUMP_2_QUICK", "TAUNT_RIGHT", "TAUNT_LEFT",  # 0x106
    "SHOULDERED_WAIT", "SHOULDERED_WALK_SLOW", "SHOULDERED_WALK_MIDDLE",  # 0x10A
    "SHOULDERED_WALK_FAST", "SHOULDERED_TURN", "THROWN_FF", "THROWN_FB", "THROWN_F_HIGH",  # 0x10D
    "THROWN_F_LOW", "CAPTURE_CAPTAIN", "CAPTURE_YOSHI", "YOSHI_EGG", "CAPTURE_KOOPA",  # 0x112
    "CAPTURE_DAMAGE_KOOPA", "CAPTURE_WAIT_KOOPA", "THROWN_KOOPA_F", "THROWN_KOOPA_B",  # 0x117
    "CAPTURE_KOOPA_AIR", "CAPTURE_DAMAGE_KOOPA_AIR", "CAPTURE_WAIT_KOOPA_AIR",  # 0x11B
    "THROWN_KOOPA_AIR_F", "THROWN_KOOPA_AIR_B", "CAPTURE_KIRBY", "CAPTURE_WAIT_KIRBY",  # 0x11E
    "THROWN_KIRBY_STAR", "THROWN_COPY_STAR", "THROWN_KIRBY", "BARREL_WAIT", "BURY",  # 0x122
    "BURY_WAIT", "BURY_JUMP", "DAMAGE_SONG", "DAMAGE_SONG_WAIT", "DAMAGE_SONG_RV",  # 0x127
    "DAMAGE_BIND", "CAPTURE_MEWTWO", "CAPTURE_MEWTWO_AIR", "THROWN_MEWTWO",  # 0x12C
    "THROWN_MEWTWO_AIR", "WARP_STAR_JUMP", "WARP_STAP_FALL", "HAMMER_WAIT", "HAMMER_WALK",  # 0x130
    "HAMMER_TURN", "HAMMER_KNEE_BEND", "HAMMER_FALL", "HAMMER_JUMP", "HAMMER_LANDING",  # 0x135
    "KINOKO_GIANT_START", "KINOKO_GIANT_START_AIR", "KINOKO_GIANT_END",  # 0x13A
    "KINOKO_GIANT_END_AIR", "KINOKO_SMALL_START", "KINOKO_SMALL_START_AIR",  # 0x13D
    "KINOKO_SMALL_END", "KINOKO_SMALL_END_AIR", "ENTRY", "ENTRY_START", "ENTRY_END",  # 0x140
    "DAMAGE_ICE", "DAMAGE_ICE_JUMP", "CAPTURE_MASTERHAND", "CAPTURE_DAMAGE_MASTERHAND",  # 0x145
    "CAPTURE_WAIT_MASTERHAND", "THROWN_MASTERHAND", "CAPTURE_KIRBY_YOSHI",  # 0x149
    "KIRBY_YOSHI_EGG", "CAPTURE_LEA_DEAD", "CAPTURE_LIKE_LIKE", "DOWN_REFLECT",  # 0x14C
    "CAPTURE_CRAZYHAND", "CAPTURE_DAMAGE_CRAZYHAND", "CAPTURE_WAIT_CRAZYHAND",  # 0x150
    "THROWN_CRAZY_HAND", "BARREL_CANNON_WAIT",  # 0x153
)

_DATASHEET_NAMES: tuple[str, ...] = (
    "DEAD_DOWN", "DEAD_LEFT", "DEAD_RIGHT", "DEAD_UP", "DEAD_UP_STAR", "DEAD_UP_STAR_ICE",  # 0x000
    "DEAD_UP_FALL", "DEAD_UP_FALL_HIT_CAMERA", "DEAD_UP_FALL_HIT_CAMERA_FLAT",  # 0x006
    "DEAD_UP_FALL_ICE", "DEAD_UP_FALL_HIT_CAMERA_ICE", "SLEEP", "REBIRTH", "REBIRTH_WAIT",  # 0x009
    "WAIT", "WALK_SLOW", "WALK_MIDDLE", "WALK_FAST", "TURN", "TURN_RUN", "DASH", "RUN",  # 0x00E
    "RUN_DIRECT", "RUN_BRAKE", "KNEE_BEND", "JUMP_F", "JUMP_B", "JUMP_AERIAL_F",  # 0x016
    "JUMP_AERIAL_B", "FALL", "FALL_F", "FALL_B", "FALL_AERIAL", "FALL_AERIAL_F",  # 0x01C
    "FALL_AERIAL_B", "FALL_SPECIAL", "FALL_SPECIAL_F", "FALL_SPECIAL_B", "DAMAGE_FALL",  # 0x022
    "SQUAT", "SQUAT_WAIT", "SQUAT_RV", "LANDING", "LANDING_FALL_SPECIAL", "ATTACK_11",  # 0x027
    "ATTACK_12", "ATTACK_13", "ATTACK_100_START", "ATTACK_100_LOOP", "ATTACK_100_END",  # 0x02D
    "ATTACK_DASH", "ATTACK_S_3_HI", "ATTACK_S_3_HI_S", "ATTACK_S_3_S", "ATTACK_S_3_LW_S",  # 0x032
    "ATTACK_S_3_LW", "ATTACK_HI_3", "ATTACK_LW_3", "ATTACK_S_4_HI", "ATTACK_S_4_HI_S",  # 0x037
    "ATTACK_S_4_S", "ATTACK_S_4_LW_S", "ATTACK_S_4_LW", "ATTACK_HI_4", "ATTACK_LW_4",  # 0x03C
    "ATTACK_AIR_N", "ATTACK_AIR_F", "ATTACK_AIR_B", "ATTACK_AIR_HI", "ATTACK_AIR_LW",  # 0x041
    "LANDING_AIR_N", "LANDING_AIR_F", "LANDING_AIR_B", "LANDING_AIR_HI", "LANDING_AIR_LW",  # 0x046
    "DAMAGE_HI_1", "DAMAGE_HI_2", "DAMAGE_HI_3", "DAMAGE_N_1", "DAMAGE_N_2", "DAMAGE_N_3",  # 0x04B
    "DAMAGE_LW_1", "DAMAGE_LW_2", "DAMAGE_LW_3", "DAMAGE_AIR_1", "DAMAGE_AIR_2",  # 0x051
    "DAMAGE_AIR_3", "DAMAGE_FLY_HI", "DAMAGE_FLY_N", "DAMAGE_FLY_LW", "DAMAGE_FLY_TOP",  # 0x056
    "DAMAGE_FLY_ROLL", "LIGHT_GET", "HEAVY_GET", "LIGHT_THROW_F", "LIGHT_THROW_B",  # 0x05B
    "LIGHT_THROW_HI", "LIGHT_THROW_LW", "LIGHT_THROW_DASH", "LIGHT_THROW_DROP",  # 0x060
    "LIGHT_THROW_AIR_F", "LIGHT_THROW_AIR_B", "LIGHT_THROW_AIR_HI", "LIGHT_THROW_AIR_LW",  # 0x064
    "HEAVY_THROW_F", "HEAVY_THROW_B", "HEAVY_THROW_HI", "HEAVY_THROW_LW",  # 0x068
    "LIGHT_THROW_F_4", "LIGHT_THROW_B_4", "LIGHT_THROW_HI_4", "LIGHT_THROW_LW_4",  # 0x06C
    "LIGHT_THROW_AIR_F_4", "LIGHT_THROW_AIR_B_4", "LIGHT_THROW_AIR_HI_4",  # 0x070
    "LIGHT_THROW_AIR_LW_4", "HEAVY_THROW_F_4", "HEAVY_THROW_B_4", "HEAVY_THROW_HI_4",  # 0x073
    "HEAVY_THROW_LW_4", "SWORD_SWING_1", "SWORD_SWING_3", "SWORD_SWING_4",  # 0x077
    "SWORD_SWING_DASH", "BAT_SWING_1", "BAT_SWING_3", "BAT_SWING_4", "BAT_SWING_DASH",  # 0x07B
    "PARASOL_SWING_1", "PARASOL_SWING_3", "PARASOL_SWING_4", "PARASOL_SWING_DASH",  # 0x080
    "HARISEN_SWING_1", "HARISEN_SWING_3", "HARISEN_SWING_4", "HARISEN_SWING_DASH",  # 0x084
    "STAR_ROD_SWING_1", "STAR_ROD_SWING_3", "STAR_ROD_SWING_4", "STAR_ROD_SWING_DASH",  # 0x088
    "LIP_STICK_SWING_1", "LIP_STICK_SWING_3", "LIP_STICK_SWING_4", "LIP_STICK_SWING_DASH",  # 0x08C
    "ITEM_PARASOL_OPEN", "ITEM_PARASOL_FALL", "ITEM_PARASOL_FALL_SPECIAL",  # 0x090
    "ITEM_PARASOL_DAMAGE_FALL", "L_GUN_SHOOT", "L_GUN_SHOOT_AIR", "L_GUN_SHOOT_EMPTY",  # 0x093
    "L_GUN_SHOOT_AIR_EMPTY", "FIRE_FLOWER_SHOOT", "FIRE_FLOWER_SHOOT_AIR", "ITEM_SCREW",  # 0x097
    "ITEM_SCREW_AIR", "DAMAGE_SCREW", "DAMAGE_SCREW_AIR", "ITEM_SCOPE_START",  # 0x09B
    "ITEM_SCOPE_RAPID", "ITEM_SCOPE_FIRE", "ITEM_SCOPE_END", "ITEM_SCOPE_AIR_START",  # 0x09F
    "ITEM_SCOPE_AIR_RAPID", "ITEM_SCOPE_AIR_FIRE", "ITEM_SCOPE_AIR_END",  # 0x0A3
    "ITEM_SCOPE_START_EMPTY", "ITEM_SCOPE_RAPID_EMPTY", "ITEM_SCOPE_FIRE_EMPTY",  # 0x0A6
    "ITEM_SCOPE_END_EMPTY", "ITEM_SCOPE_AIR_START_EMPTY", "ITEM_SCOPE_AIR_RAPID_EMPTY",  # 0x0A9
    "ITEM_SCOPE_AIR_FIRE_EMPTY", "ITEM_SCOPE_AIR_END_EMPTY", "LIFT_WAIT", "LIFT_WALK_1",  # 0x0AC
    "LIFT_WALK_2", "LIFT_TURN", "GUARD_ON", "GUARD", "GUARD_OFF", "GUARD_SET_OFF",  # 0x0B0
    "GUARD_REFLECT", "DOWN_BOUND_U", "DOWN_WAIT_U", "DOWN_DAMAGE_U", "DOWN_STAND_U",  # 0x0B6
    "DOWN_ATTACK_U", "DOWN_FOWARD_U", "DOWN_BACK_U", "DOWN_SPOT_U", "DOWN_BOUND_D",  # 0x0BB
    "DOWN_WAIT_D", "DOWN_DAMAGE_D", "DOWN_STAND_D", "DOWN_ATTACK_D", "DOWN_FOWARD_D",  # 0x0C0
    "DOWN_BACK_D", "DOWN_SPOT_D", "PASSIVE", "PASSIVE_STAND_F", "PASSIVE_STAND_B",  # 0x0C5
    "PASSIVE_WALL", "PASSIVE_WALL_JUMP", "PASSIVE_CEIL", "SHIELD_BREAK_FLY",  # 0x0CA
    "SHIELD_BREAK_FALL", "SHIELD_BREAK_DOWN_U", "SHIELD_BREAK_DOWN_D",  # 0x0CE
    "SHIELD_BREAK_STAND_U", "SHIELD_BREAK_STAND_D", "FURA_FURA", "CATCH", "CATCH_PULL",  # 0x0D1
    "CATCH_DASH", "CATCH_DASH_PULL", "CATCH_WAIT", "CATCH_ATTACK", "CATCH_CUT", "THROW_F",  # 0x0D6
    "THROW_B", "THROW_HI", "THROW_LW", "CAPTURE_PULLED_HI", "CAPTURE_WAIT_HI",  # 0x0DC
    "CAPTURE_DAMAGE_HI", "CAPTURE_PULLED_LW", "CAPTURE_WAIT_LW", "CAPTURE_DAMAGE_LW",  # 0x0E1
    "CAPTURE_CUT", "CAPTURE_JUMP", "CAPTURE_NECK", "CAPTURE_FOOT", "ESCAPE_F", "ESCAPE_B",  # 0x0E5
    "ESCAPE", "ESCAPE_AIR", "REBOUND_STOP", "REBOUND", "THROWN_F", "THROWN_B",  # 0x0EB
    "THROWN_HI", "THROWN_LW", "THROWN_LW_WOMEN", "PASS", "OTTOTTO", "OTTOTTO_WAIT",  # 0x0F1
    "FLY_REFLECT_WALL", "FLY_REFLECT_CEIL", "STOP_WALL", "STOP_CEIL", "MISS_FOOT",  # 0x0F7
    "CLIFF_CATCH", "CLIFF_WAIT", "CLIFF_CLIMB_SLOW", "CLIFF_CLIMB_QUICK",  # 0x0FC
    "CLIFF_ATTACK_SLOW", "CLIFF_ATTACK_QUICK", "CLIFF_ESCAPE_SLOW", "CLIFF_ESCAPE_QUICK",  # 0x100
    "CLIFF_JUMP_SLOW_1", "CLIFF_JUMP_SLOW_2", "CLIFF_JUMP_QUICK_1", "CLIFF_JUMP_QUICK_2",  # 0x104
    "APPEAL_R", "APPEAL_L", "SHOULDERED_WAIT", "SHOULDERED_WALK_SLOW",  # 0x108
    "SHOULDERED_WALK_MIDDLE", "SHOULDERED_WALK_FAST", "SHOULDERED_TURN", "THROWN_F_F",  # 0x10C
    "THROWN_F_B", "THROWN_F_HI", "THROWN_F_LW", "CAPTURE_CAPTAIN", "CAPTURE_YOSHI",  # 0x110
    "YOSHI_EGG", "CAPTURE_KOOPA", "CAPTURE_DAMAGE_KOOPA", "CAPTURE_WAIT_KOOPA",  # 0x115
    "THROWN_KOOPA_F", "THROWN_KOOPA_B", "CAPTURE_KOOPA_AIR", "CAPTURE_DAMAGE_KOOPA_AIR",  # 0x119
    "CAPTURE_WAIT_KOOPA_AIR", "THROWN_KOOPA_AIR_F", "THROWN_KOOPA_AIR_B", "CAPTURE_KIRBY",  # 0x11D
    "CAPTURE_WAIT_KIRBY", "THROWN_KIRBY_STAR", "THROWN_COPY_STAR", "THROWN_KIRBY",  # 0x121
    "BARREL_WAIT", "BURY", "BURY_WAIT", "BURY_JUMP", "DAMAGE_SONG", "DAMAGE_SONG_WAIT",  # 0x125
    "DAMAGE_SONG_RV", "DAMAGE_BIND", "CAPTURE_MEWTWO", "CAPTURE_MEWTWO_AIR",  # 0x12B
    "THROWN_MEWTWO", "THROWN_MEWTWO_AIR", "WARP_STAR_JUMP", "WARP_STAR_FALL",  # 0x12F
    "HAMMER_WAIT", "HAMMER_WALK", "HAMMER_TURN", "HAMMER_KNEE_BEND", "HAMMER_FALL",  # 0x133
    "HAMMER_JUMP", "HAMMER_LANDING", "KINOKO_GIANT_START", "KINOKO_GIANT_START_AIR",  # 0x138
    "KINOKO_GIANT_END", "KINOKO_GIANT_END_AIR", "KINOKO_SMALL_START",  # 0x13C
    "KINOKO_SMALL_START_AIR", "KINOKO_SMALL_END", "KINOKO_SMALL_END_AIR", "ENTRY",  # 0x13F
    "ENTRY_START", "ENTRY_END", "DAMAGE_ICE", "DAMAGE_ICE_JUMP", "CAPTURE_MASTER_HAND",  # 0x143
    "CAPTURE_DAMAGE_MASTER_HAND", "CAPTURE_WAIT_MASTER_HAND", "THROWN_MASTER_HAND",  # 0x148
    "CAPTURE_KIRBY_YOSHI", "KIRBY_YOSHI_EGG", "CAPTURE_REDEAD", "CAPTURE_LIKE_LIKE",  # 0x14B
    "DOWN_REFLECT", "CAPTURE_CRAZY_HAND", "CAPTURE_DAMAGE_CRAZY_HAND",  # 0x14F
    "CAPTURE_WAIT_CRAZY_HAND", "THROWN_CRAZY_HAND", "BARREL_CANNON_WAIT",  # 0x152
)

assert len(_LIBMELEE_NAMES) == NUM_COMMON_ACTIONS == len(_DATASHEET_NAMES)
assert len(set(_LIBMELEE_NAMES)) == NUM_COMMON_ACTIONS

Action = IntEnum("Action", {n: i for i, n in enumerate(_LIBMELEE_NAMES)})  # type: ignore[misc]
Action.__doc__ = "The common action states 0..0x154, with libmelee's names."


def action_name(action_id: int, character: int | None = None) -> str:
    """Readable name: libmelee's for 0..0x154; for a character-specific id, the move's name for
    that *internal* character id (`schema.specials`: Fox's 0x15E is FOX_ILLUSION_AIR_START,
    Marth's DANCING_BLADE_2_UP_GROUND); `SPECIAL_0x16A` where no name is known or no character
    is given."""
    i = int(action_id)
    if 0 <= i < NUM_COMMON_ACTIONS:
        return _LIBMELEE_NAMES[i]
    if i < 0:
        return f"INVALID_{i}"
    return special_name(i, character) or f"SPECIAL_0x{i:X}"


def datasheet_name(action_id: int) -> str:
    """The SSBM Data Sheet / py-slippi name (the game's animation name) of a common id; the same
    generic name as `action_name` for the others."""
    i = int(action_id)
    if 0 <= i < NUM_COMMON_ACTIONS:
        return _DATASHEET_NAMES[i]
    return action_name(i)


# ---------------------------------------------------------------------------------------------
# Categories


class ActionCategory(IntEnum):
    IDLE = 0
    MOVEMENT = 1
    AERIAL = 2
    GROUND_ATTACK = 3
    AERIAL_ATTACK = 4
    DAMAGE = 5
    SHIELD_DODGE = 6
    GRAB = 7
    LEDGE = 8
    SPECIAL = 9
    OTHER = 10

    @property
    def label(self) -> str:
        return self.name.lower()


_C = ActionCategory
# (first id, last id inclusive, category) over the common ids; unlisted ids are OTHER.
_CATEGORY_RANGES: tuple[tuple[int, int, ActionCategory], ...] = (
    (0x000, 0x00D, _C.OTHER),  # dead 0..10, sleep 11, respawn halo 12..13
    (0x00E, 0x00E, _C.IDLE),  # standing (WAIT)
    (0x00F, 0x018, _C.MOVEMENT),  # walk, turn, dash, run, run brake, knee bend (jump squat)
    (0x019, 0x025, _C.AERIAL),  # jumps, falls, special falls
    (0x026, 0x026, _C.DAMAGE),  # tumble (DAMAGE_FALL)
    (0x027, 0x029, _C.IDLE),  # crouch
    (0x02A, 0x02B, _C.MOVEMENT),  # landing, special landing (wavedash / wavelands)
    (0x02C, 0x040, _C.GROUND_ATTACK),  # jabs, rapid jab, dash attack, tilts, smashes
    (0x041, 0x04A, _C.AERIAL_ATTACK),  # aerials and their landing lag
    (0x04B, 0x05B, _C.DAMAGE),  # hitstun and knockback
    (0x05C, 0x0B1, _C.OTHER),  # item pickup/throw/swing/shoot/carry
    (0x0B2, 0x0B6, _C.SHIELD_DODGE),  # shield
    (0x0B7, 0x0D3, _C.DAMAGE),  # missed techs, lying down, getups, techs, shield break
    (0x0D4, 0x0DE, _C.GRAB),  # grab, pummel, throws
    (0x0DF, 0x0E8, _C.DAMAGE),  # being grabbed
    (0x0E9, 0x0EC, _C.SHIELD_DODGE),  # rolls, spot dodge, air dodge
    (0x0ED, 0x0EE, _C.OTHER),  # rebound (clank)
    (0x0EF, 0x0F3, _C.DAMAGE),  # being thrown
    (0x0F4, 0x0F4, _C.AERIAL),  # dropping through a platform (PASS)
    (0x0F5, 0x0F6, _C.IDLE),  # teetering
    (0x0F7, 0x0FB, _C.DAMAGE),  # wall/ceiling bounces, slipping off an edge
    (0x0FC, 0x107, _C.LEDGE),  # ledge catch, hang, getup, attack, roll, jump
    (0x108, 0x109, _C.OTHER),  # taunts
    (0x10A, 0x124, _C.DAMAGE),  # carried by DK, thrown, captured by Falcon/Yoshi/Bowser/Kirby
    (0x125, 0x125, _C.OTHER),  # barrel wait
    (0x126, 0x130, _C.DAMAGE),  # buried, sung to sleep, bound, captured by Mewtwo
    (0x131, 0x144, _C.OTHER),  # warp star, hammer, mushrooms, entry
    (0x145, 0x153, _C.DAMAGE),  # frozen, captured by the hands / Yoshi-Kirby / ReDead / Like Like
    (0x154, 0x154, _C.OTHER),  # barrel cannon
)


def _build_categories() -> tuple[ActionCategory, ...]:
    table = [_C.OTHER] * ACTION_VOCAB
    for lo, hi, cat in _CATEGORY_RANGES:
        for i in range(lo, hi + 1):
            table[i] = cat
    for i in range(FIRST_SPECIAL_ACTION, ACTION_VOCAB):
        table[i] = _C.SPECIAL
    return tuple(table)


_CATEGORY_TABLE = _build_categories()


# ---------------------------------------------------------------------------------------------
# Id sets for the predicates


def _ids(*parts: int | tuple[int, int]) -> frozenset[int]:
    out: set[int] = set()
    for p in parts:
        if isinstance(p, tuple):
            out.update(range(p[0], p[1] + 1))
        else:
            out.add(p)
    return frozenset(out)


DEAD_STATES = _ids((0x00, 0x0A))  # DEAD_DOWN .. DEAD_FLY_SPLATTER_FLAT_ICE
RESPAWN_STATES = _ids(0x0C, 0x0D)  # ON_HALO_DESCENT, ON_HALO_WAIT (REBIRTH, REBIRTH_WAIT)
SHIELD_STATES = _ids((0xB2, 0xB6))  # SHIELD_START .. SHIELD_REFLECT (GUARD_ON .. GUARD_REFLECT)
ENTRY_STATES = _ids((0x142, 0x144))  # ENTRY, ENTRY_START, ENTRY_END (start of the game)
LEDGE_STATES = _ids((0xFC, 0x107))  # EDGE_CATCHING .. EDGE_JUMP_2_QUICK (CLIFF_*)
# Held by another character or the stage (grabbed, pummeled, thrown, captured, swallowed, buried,
# in a barrel): the game places the character, e.g. at the thrower's hand, which may be in the floor.
HELD_STATES = _ids(
    (0xE0, 0xE8),  # grabbed, pummeled, grab escapes
    (0xEF, 0xF3),  # thrown
    (0x10F, 0x128),  # thrown or captured by Falcon, Yoshi, Bowser, Kirby; barrel; buried
    (0x12D, 0x130),  # captured and thrown by Mewtwo
    (0x147, 0x154),  # hands, Yoshi's egg, Like Like, barrel cannon
)

AIRBORNE_ONLY_STATES = _ids(
    (0x19, 0x25),  # jumps (JUMP_F/B, JUMP_AERIAL_F/B), falls, special falls
    0x26,  # tumble (DAMAGE_FALL)
    (0x41, 0x45),  # aerial attacks
    (0x54, 0x5B),  # DAMAGE_AIR_1..3, DAMAGE_FLY_*
    (0x64, 0x67),  # item throws in the air
    (0x70, 0x77),  # smash item throws in the air
    (0x90, 0x93),  # parasol item open / fall
    0x95, 0x97, 0x99, 0x9B, 0x9D,  # ray gun, fire flower, screw attack: air versions
    (0xA2, 0xA5), (0xAA, 0xAD),  # super scope: air versions
    (0xCA, 0xCC),  # wall tech, wall jump tech, ceiling tech
    0xCD, 0xCE,  # shield break fly / fall
    0xEC,  # air dodge (ESCAPE_AIR)
    0xF4,  # dropping through a platform (PASS)
    0xF7, 0xF8,  # bouncing off a wall / ceiling
    0xFB,  # slipping off an edge (MISS_FOOT)
    (0x104, 0x107),  # ledge jumps
    (0x11B, 0x11F),  # captured by Bowser in the air
    0x12E, 0x130,  # captured / thrown by Mewtwo in the air
    0x131, 0x132,  # warp star
    0x137, 0x138,  # hammer fall / jump
    0x13B, 0x13D, 0x13F, 0x141,  # mushroom growth / shrink in the air
    0x146,  # DAMAGE_ICE_JUMP
)

GROUNDED_ONLY_STATES = _ids(
    (0x0E, 0x18),  # stand, walk, turn, dash, run, run brake, knee bend
    (0x27, 0x2B),  # crouch, landing, special landing
    (0x2C, 0x40),  # ground attacks
    (0x46, 0x4A),  # aerial landing lag
    (0x5C, 0x63),  # item pickup and ground light throws
    (0x68, 0x6F),  # ground heavy throws and smash throws
    (0x78, 0x8F),  # item swings
    0x94, 0x96, 0x98,  # ray gun / fire flower on the ground
    (0x9E, 0xA1), (0xA6, 0xA9),  # super scope on the ground
    (0xAE, 0xB1),  # carrying a heavy item
    (0xB2, 0xB6),  # shield
    0xB8, (0xBA, 0xBE), 0xC0, (0xC2, 0xC9),  # lying down, getups, ground techs
    (0xCF, 0xD3),  # shield break: lying, standing up, dizzy
    (0xD4, 0xDE),  # grab, pummel, throws
    (0xE2, 0xE5),  # being grabbed (low), grab release
    (0xE9, 0xEB),  # rolls, spot dodge
    0xED, 0xEE,  # rebound
    0xF5, 0xF6,  # teetering
    0x108, 0x109,  # taunts
    (0x10A, 0x10E),  # carried by DK
    (0x133, 0x136), 0x139,  # hammer on the ground
    0x13A, 0x13C, 0x13E, 0x140,  # mushroom growth / shrink on the ground
)

assert not AIRBORNE_ONLY_STATES & GROUNDED_ONLY_STATES
assert all(i < NUM_COMMON_ACTIONS for i in AIRBORNE_ONLY_STATES | GROUNDED_ONLY_STATES)


def _bool_table(ids: frozenset[int]) -> tuple[bool, ...]:
    return tuple(i in ids for i in range(ACTION_VOCAB))


_TABLES = {
    "dead": _bool_table(DEAD_STATES),
    "respawn": _bool_table(RESPAWN_STATES),
    "shield": _bool_table(SHIELD_STATES),
    "entry": _bool_table(ENTRY_STATES),
    "ledge": _bool_table(LEDGE_STATES),
    "held": _bool_table(HELD_STATES),
    "air": _bool_table(AIRBORNE_ONLY_STATES),
    "ground": _bool_table(GROUNDED_ONLY_STATES),
}

_NP_CACHE: dict[str, Any] = {}


def _is_scalar(x: Any) -> bool:
    return x is None or isinstance(x, (int, float)) or getattr(x, "ndim", None) == 0


def _scalar_vocab(x: Any) -> int:
    try:
        i = int(x)
    except (TypeError, ValueError):  # None, NaN
        return UNKNOWN_ACTION
    return i if 0 <= i < UNKNOWN_ACTION else UNKNOWN_ACTION


def action_to_vocab(ids: Any) -> Any:
    """Map action-state ids to the model vocabulary 0..399: ids 0..398 unchanged, everything
    else (>= 399, negative, NaN) to `UNKNOWN_ACTION` (399). Takes a scalar (returns an int) or any
    array-like (returns a numpy int64 array of the same shape)."""
    if _is_scalar(ids):
        return _scalar_vocab(ids)
    import numpy as np

    a = np.asarray(ids)
    if a.dtype.kind == "f":
        valid = np.isfinite(a)
        a = np.where(valid, a, -1)
    elif a.dtype.kind not in "iu":  # object arrays, e.g. with None for missing frames
        flat = [-1 if v is None else v for v in a.ravel().tolist()]
        a = np.asarray(flat, dtype=np.float64).reshape(a.shape)
        a = np.where(np.isfinite(a), a, -1)
    a = a.astype(np.int64)
    return np.where((a >= 0) & (a < UNKNOWN_ACTION), a, UNKNOWN_ACTION)


def _lookup(name: str, ids: Any) -> Any:
    table = _TABLES[name]
    if _is_scalar(ids):
        return table[_scalar_vocab(ids)]
    import numpy as np

    arr = _NP_CACHE.get(name)
    if arr is None:
        arr = _NP_CACHE[name] = np.array(table, dtype=bool)
    return arr[action_to_vocab(ids)]


def action_category(action_id: Any) -> Any:
    """The `ActionCategory` of an id (character-specific ids >= 0x155 are SPECIAL; negative or
    missing ids OTHER). On an array, returns an int array of category values."""
    if _is_scalar(action_id):
        try:
            i = int(action_id)
        except (TypeError, ValueError):
            return _C.OTHER
        if i < 0:
            return _C.OTHER
        return _C.SPECIAL if i >= FIRST_SPECIAL_ACTION else _CATEGORY_TABLE[i]
    import numpy as np

    arr = _NP_CACHE.get("category")
    if arr is None:
        arr = _NP_CACHE["category"] = np.array([int(c) for c in _CATEGORY_TABLE], dtype=np.int8)
    a = np.asarray(action_id)
    v = action_to_vocab(a)
    out = arr[v]
    # ids >= 399 fold into UNKNOWN_ACTION, which is character-specific: SPECIAL. Invalid ids: OTHER.
    if a.dtype.kind == "f":
        invalid = ~np.isfinite(a) | (np.nan_to_num(a, nan=-1) < 0)
    else:
        invalid = a.astype(np.int64) < 0
    return np.where(invalid, int(_C.OTHER), out)


def is_dead(action_id: Any) -> Any:
    """DEAD_DOWN .. DEAD_FLY_SPLATTER_FLAT_ICE (0..10): the character is being KO'd.
    Down/left/right KOs decrement the stock count on their first frame; star and screen KOs
    (DEAD_FLY_STAR, DEAD_FLY, ...) only when the dead animation ends, ~130-180 frames later
    (measured on the replay corpus)."""
    return _lookup("dead", action_id)


def is_respawning(action_id: Any) -> Any:
    """ON_HALO_DESCENT / ON_HALO_WAIT (12, 13): on the respawn platform."""
    return _lookup("respawn", action_id)


def is_held(action_id: Any) -> Any:
    """Grabbed, thrown, captured, buried or in a barrel (`HELD_STATES`): placed by the game."""
    return _lookup("held", action_id)


def is_shielding(action_id: Any) -> Any:
    """SHIELD_START .. SHIELD_REFLECT (178..182): shield up, shield stun, powershield reflect."""
    return _lookup("shield", action_id)


def is_entry(action_id: Any) -> Any:
    """ENTRY .. ENTRY_END (322..324): the start-of-game entrance."""
    return _lookup("entry", action_id)


def is_on_ledge(action_id: Any) -> Any:
    """Ledge states 252..263 (catch, hang, getup, attack, roll, jump)."""
    return _lookup("ledge", action_id)


def is_airborne_only(action_id: Any) -> Any:
    """States that only exist in the air (jumps, falls, tumble, aerials, air dodge, air hitstun,
    ...). A frame that says grounded while in one of them is contradictory."""
    return _lookup("air", action_id)


def is_grounded_only(action_id: Any) -> Any:
    """States that only exist on the ground (standing, walking, dashing, crouching, ground
    attacks, landing lag, shield, rolls, grabs, lying down, teetering, ...)."""
    return _lookup("ground", action_id)


__all__ = [
    "ACTION_VOCAB",
    "AIRBORNE_ONLY_STATES",
    "Action",
    "ActionCategory",
    "DEAD_STATES",
    "ENTRY_STATES",
    "FIRST_SPECIAL_ACTION",
    "GROUNDED_ONLY_STATES",
    "HELD_STATES",
    "LEDGE_STATES",
    "NUM_COMMON_ACTIONS",
    "RESPAWN_STATES",
    "SHIELD_STATES",
    "UNKNOWN_ACTION",
    "action_category",
    "action_name",
    "action_to_vocab",
    "datasheet_name",
    "is_airborne_only",
    "is_dead",
    "is_held",
    "is_entry",
    "is_grounded_only",
    "is_on_ledge",
    "is_respawning",
    "is_shielding",
]
