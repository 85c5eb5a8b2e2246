"""Melee item types: a name and a drawing kind per item type id (`item.type`, uint16).

Every Slippi item record (pickups, projectiles, the objects a move spawns, Pokémon, stage enemies)
carries a type id. The play page draws each item by its kind (`KINDS`) and labels it by its name.

Sources (read through the code search, not from memory)
-------------------------------------------------------
* **Names, all ids**: hohav/ssbm-data `src/item.rs` (commit
  20b7fd33e89328e09b06dd6e2f2a710be90b9744, the repository `schema.specials` takes its action
  names from), enum `Item { Capsule = 0, ..., FoxLaser = 54, ..., BirdoEgg = 236 }`. Names here are
  its identifiers in upper snake case (FoxLaser -> FOX_LASER).
* **Second opinion on the projectiles**: altf4/libmelee `melee/enums.py` (commit
  0a43101c329b2db16af91818ac1a165fff2ea772), class `ProjectileType` (BOB_OMB = 0x06 ...
  KIRBY_YOSHI_TONGUE = 0x9D). It agrees with ssbm-data on every id both name. Where libmelee's name
  says more, it is used (`RENAMED` lists each with ssbm-data's identifier): 79/80 Sheik's needles
  thrown / stuck in the ground (ssbm-data SheikNeedle1/2; libmelee names 0x4F NEEDLE_THROWN and
  Kirby's copies 0x98/0x99 ..._THROWN / ..._GROUND), 89..92 and 147..150 the Thunder Jolts
  (ssbm-data PikachuThunder2/3, ...; libmelee PIKACHU_THUNDERJOLT_1/2, ...; 81/82 are the down-B
  Thunder in both), 78 and 146 the PK Flash explosions, 109 the explosion of Din's Fire, 86 Yoshi's
  thrown egg. The two disagree on whose 123 (milk) is (ssbm-data GameAndWatchMilk, libmelee
  YLINK_MILK): it is called MILK here.
* **27 (the Poison Mushroom)**, which ssbm-data leaves out: DaltonSW/slp-parser `id/items.go` (commit
  d7f3803fcb3a6c26b03e8517ccf84e40d0035682), `MiniMushroomItem = 0x1B`.

Checked against the replay corpus in tests/schema/test_items.py: every type id seen in
../shared/replays (and in a packed store, when one is there) has a name or is listed in
`UNKNOWN_SEEN`; an item made by a character's move (`ItemType.characters`) is, when it appears,
owned by a player of that character; lasers move. Looked at once when the table was written: in the
corpus, 81/82 appear while their owner is in THUNDER_GROUND / THUNDER_AIR, 91/92 in
THUNDER_JOLT_AIR / _GROUND, 74 in BLASTER_*_START, 85 in Sheik's VANISH_AIR_DISAPPEAR.

Drawing kinds
-------------
The kind says how the page draws an item, chosen here from the name (what the object is in the
game), not measured: `laser` a beam (a short line along its velocity), `fireball` a ball of fire,
`projectile` another shot (energy balls, thunder, PK moves, pills), `arrow` a thin fast shot with a
head (arrows, needles, missiles), `thrown` an object a character throws (turnip, boomerang, egg,
ice block), `explosive` a bomb or an explosion, `container` a capsule, crate, barrel, egg or party
ball, `item` any other pickup item, `attached` an object a move holds at the character (Fox's
blaster, capes, Sheik's chain, Game & Watch's tools, afterimages), `pokemon` a Pokémon and its
attack, `stage` a stage's enemy or object (Shy Guys, Tingle, Birdo...), `unknown` an id without a
name (labelled by its hex id: a wrong name misleads more than a hex code).
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamland.schema.specials import (
    BOWSER,
    DOC,
    FALCO,
    FOX,
    GAW,
    GIGA_BOWSER,
    KIRBY,
    LINK,
    LUIGI,
    MARIO,
    MEWTWO,
    NANA,
    NESS,
    PEACH,
    PICHU,
    PIKACHU,
    POPO,
    SAMUS,
    SHEIK,
    YLINK,
    YOSHI,
    ZELDA,
)

KINDS: tuple[str, ...] = ("laser", "fireball", "projectile", "arrow", "thrown", "explosive", "container",
                          "item", "attached", "pokemon", "stage", "unknown")


@dataclass(frozen=True)
class ItemType:
    """One item type id: its name, how it is drawn, and the internal character ids whose moves make
    it (empty for pickups, Pokémon and stage items)."""

    id: int
    name: str
    kind: str
    characters: tuple[int, ...] = ()


# (id, name, kind[, the internal character id(s) whose moves make it]); Kirby's copies get Kirby
_ROWS: list[tuple] = [
    # --- pickup items (0..41)
    (0, "CAPSULE", "container"), (1, "BOX", "container"), (2, "BARREL", "container"),
    (3, "EGG", "container"), (4, "PARTY_BALL", "container"), (5, "BARREL_CANNON", "item"),
    (6, "BOB_OMB", "explosive"), (7, "MR_SATURN", "item"), (8, "HEART_CONTAINER", "item"),
    (9, "MAXIM_TOMATO", "item"), (10, "STARMAN", "item"), (11, "HOME_RUN_BAT", "item"),
    (12, "BEAM_SWORD", "item"), (13, "PARASOL", "item"), (14, "GREEN_SHELL_1", "item"),
    (15, "RED_SHELL_1", "item"), (16, "RAY_GUN", "item"), (17, "FREEZIE", "item"), (18, "FOOD", "item"),
    (19, "PROXIMITY_MINE", "explosive"), (20, "FLIPPER", "item"), (21, "SUPER_SCOPE", "item"),
    (22, "STAR_ROD", "item"), (23, "LIP_STICK", "item"), (24, "FAN", "item"), (25, "FIRE_FLOWER", "item"),
    (26, "SUPER_MUSHROOM", "item"), (27, "MINI_MUSHROOM", "item"), (29, "WARP_STAR", "item"),
    (30, "SCREW_ATTACK", "item"), (31, "BUNNY_HOOD", "item"), (32, "METAL_BOX", "item"),
    (33, "CLOAKING_DEVICE", "item"), (34, "POKE_BALL", "item"), (35, "RAY_GUN_RECOIL", "attached"),
    (36, "STAR_ROD_STAR", "projectile"), (37, "LIP_STICK_DUST", "projectile"),
    (38, "SUPER_SCOPE_BEAM", "laser"), (39, "RAY_GUN_BEAM", "laser"), (40, "HAMMER_HEAD", "item"),
    (41, "FLOWER", "attached"),
    # --- enemies of the adventure / event stages (42..47)
    (42, "YOSHI_EGG_1", "stage"), (43, "GOOMBA", "stage"), (44, "REDEAD", "stage"),
    (45, "OCTAROK", "stage"), (46, "OTTOSEA", "stage"), (47, "STONE", "stage"),
    # --- the characters' moves (48..129)
    (48, "MARIO_FIRE", "fireball", MARIO), (49, "DR_MARIO_PILL", "projectile", DOC),
    (50, "KIRBY_CUTTER_BEAM", "projectile", KIRBY), (51, "KIRBY_HAMMER", "attached", KIRBY),
    (54, "FOX_LASER", "laser", FOX), (55, "FALCO_LASER", "laser", FALCO),
    (56, "FOX_SHADOW", "attached", FOX), (57, "FALCO_SHADOW", "attached", FALCO),
    (58, "LINK_BOMB", "explosive", LINK), (59, "YOUNG_LINK_BOMB", "explosive", YLINK),
    (60, "LINK_BOOMERANG", "thrown", LINK), (61, "YOUNG_LINK_BOOMERANG", "thrown", YLINK),
    (62, "LINK_HOOKSHOT", "attached", LINK), (63, "YOUNG_LINK_HOOKSHOT", "attached", YLINK),
    (64, "LINK_ARROW_1", "arrow", LINK), (65, "YOUNG_LINK_FIRE_ARROW", "arrow", YLINK),
    (66, "NESS_PK_FIRE", "fireball", NESS), (67, "NESS_PK_FLASH_1", "projectile", NESS),
    (68, "NESS_PK_FLASH_2", "projectile", NESS), (69, "NESS_PK_THUNDER_1", "projectile", NESS),
    (70, "NESS_PK_THUNDER_2", "projectile", NESS), (71, "NESS_PK_THUNDER_3", "projectile", NESS),
    (72, "NESS_PK_THUNDER_4", "projectile", NESS), (73, "NESS_PK_THUNDER_5", "projectile", NESS),
    (74, "FOX_BLASTER", "attached", FOX), (75, "FALCO_BLASTER", "attached", FALCO),
    (76, "LINK_ARROW_2", "arrow", LINK), (77, "YOUNG_LINK_ARROW", "arrow", YLINK),
    (78, "NESS_PK_FLASH_EXPLOSION", "explosive", NESS),
    (79, "SHEIK_NEEDLE_THROWN", "arrow", SHEIK), (80, "SHEIK_NEEDLE_GROUND", "arrow", SHEIK),
    (81, "PIKACHU_THUNDER", "projectile", PIKACHU), (82, "PICHU_THUNDER", "projectile", PICHU),
    (83, "MARIO_CAPE", "attached", MARIO), (84, "DR_MARIO_CAPE", "attached", DOC),
    (85, "SHEIK_SMOKE", "attached", SHEIK), (86, "YOSHI_EGG_THROWN", "thrown", YOSHI),
    (87, "YOSHI_TONGUE_1", "attached", YOSHI), (88, "YOSHI_STAR", "projectile", YOSHI),
    (89, "PIKACHU_THUNDER_JOLT_1", "projectile", PIKACHU),
    (90, "PIKACHU_THUNDER_JOLT_2", "projectile", PIKACHU),
    (91, "PICHU_THUNDER_JOLT_1", "projectile", PICHU), (92, "PICHU_THUNDER_JOLT_2", "projectile", PICHU),
    (93, "SAMUS_BOMB", "explosive", SAMUS), (94, "SAMUS_CHARGE_SHOT", "projectile", SAMUS),
    (95, "SAMUS_MISSILE", "arrow", SAMUS), (96, "SAMUS_GRAPPLE_BEAM", "attached", SAMUS),
    (97, "SHEIK_CHAIN", "attached", SHEIK), (99, "PEACH_TURNIP", "thrown", PEACH),
    (100, "BOWSER_FLAME", "fireball", (BOWSER, GIGA_BOWSER)), (101, "NESS_BAT", "attached", NESS),
    (102, "NESS_YOYO", "attached", NESS), (103, "PEACH_PARASOL", "attached", PEACH),
    (104, "PEACH_TOAD", "attached", PEACH), (105, "LUIGI_FIRE", "fireball", LUIGI),
    (106, "ICE_CLIMBERS_ICE", "thrown", (POPO, NANA)),
    (107, "ICE_CLIMBERS_BLIZZARD", "projectile", (POPO, NANA)),
    (108, "ZELDA_FIRE", "fireball", ZELDA), (109, "ZELDA_FIRE_EXPLOSION", "explosive", ZELDA),
    (111, "PEACH_TOAD_SPORE", "projectile", PEACH), (112, "MEWTWO_SHADOW_BALL", "projectile", MEWTWO),
    (113, "ICE_CLIMBERS_UP_B", "attached", (POPO, NANA)),
    (114, "GAME_AND_WATCH_PESTICIDE", "attached", GAW), (115, "GAME_AND_WATCH_MANHOLE", "attached", GAW),
    (116, "GAME_AND_WATCH_FIRE", "attached", GAW), (117, "GAME_AND_WATCH_PARACHUTE", "attached", GAW),
    (118, "GAME_AND_WATCH_TURTLE", "attached", GAW), (119, "GAME_AND_WATCH_SPERKY", "attached", GAW),
    (120, "GAME_AND_WATCH_JUDGE", "attached", GAW), (122, "GAME_AND_WATCH_SAUSAGE", "thrown", GAW),
    (123, "MILK", "attached"), (124, "GAME_AND_WATCH_FIREFIGHTER", "attached", GAW),
    (125, "MASTER_HAND_LASER", "laser"), (126, "MASTER_HAND_BULLET", "projectile"),
    (127, "CRAZY_HAND_LASER", "laser"), (128, "CRAZY_HAND_BULLET", "projectile"),
    (129, "CRAZY_HAND_BOMB", "explosive"),
    # --- Kirby's copies of the neutral specials (130..157)
    (130, "KIRBY_COPY_MARIO_FIRE", "fireball"), (131, "KIRBY_COPY_DR_MARIO_PILL", "projectile"),
    (132, "KIRBY_COPY_LUIGI_FIRE", "fireball"), (133, "KIRBY_COPY_ICE_CLIMBERS_ICE", "thrown"),
    (134, "KIRBY_COPY_PEACH_TOAD", "attached"), (135, "KIRBY_COPY_TOAD_SPORE", "projectile"),
    (136, "KIRBY_COPY_FOX_LASER", "laser"), (137, "KIRBY_COPY_FALCO_LASER", "laser"),
    (138, "KIRBY_COPY_FOX_BLASTER", "attached"), (139, "KIRBY_COPY_FALCO_BLASTER", "attached"),
    (140, "KIRBY_COPY_LINK_ARROW_1", "arrow"), (141, "KIRBY_COPY_YOUNG_LINK_ARROW_1", "arrow"),
    (142, "KIRBY_COPY_LINK_ARROW_2", "arrow"), (143, "KIRBY_COPY_YOUNG_LINK_ARROW_2", "arrow"),
    (144, "KIRBY_COPY_MEWTWO_SHADOW_BALL", "projectile"), (145, "KIRBY_COPY_PK_FLASH", "projectile"),
    (146, "KIRBY_COPY_PK_FLASH_EXPLOSION", "explosive"),
    (147, "KIRBY_COPY_PIKACHU_THUNDER_JOLT_1", "projectile"),
    (148, "KIRBY_COPY_PIKACHU_THUNDER_JOLT_2", "projectile"),
    (149, "KIRBY_COPY_PICHU_THUNDER_JOLT_1", "projectile"),
    (150, "KIRBY_COPY_PICHU_THUNDER_JOLT_2", "projectile"),
    (151, "KIRBY_COPY_SAMUS_CHARGE_SHOT", "projectile"), (152, "KIRBY_COPY_SHEIK_NEEDLE_THROWN", "arrow"),
    (153, "KIRBY_COPY_SHEIK_NEEDLE_GROUND", "arrow"), (154, "KIRBY_COPY_BOWSER_FLAME", "fireball"),
    (155, "KIRBY_COPY_GAME_AND_WATCH_SAUSAGE", "thrown"),
    (157, "YOSHI_TONGUE_2", "attached"), (159, "MARIO_LUIGI_COIN", "attached", (MARIO, LUIGI)),
    # --- Pokémon from a Poké Ball, and their attacks (160..206)
    (160, "RANDOM_POKEMON", "pokemon"), (161, "GOLDEEN", "pokemon"), (162, "CHICORITA", "pokemon"),
    (163, "SNORLAX", "pokemon"), (164, "BLASTOISE", "pokemon"), (165, "WEEZING", "pokemon"),
    (166, "CHARIZARD", "pokemon"), (167, "MOLTRES", "pokemon"), (168, "ZAPDOS", "pokemon"),
    (169, "ARTICUNO", "pokemon"), (170, "WOBBUFFET", "pokemon"), (171, "SCIZOR", "pokemon"),
    (172, "UNOWN", "pokemon"), (173, "ENTEI", "pokemon"), (174, "RAIKOU", "pokemon"),
    (175, "SUICUNE", "pokemon"), (176, "BELLOSSOM", "pokemon"), (177, "ELECTRODE", "pokemon"),
    (178, "LUGIA", "pokemon"), (179, "HO_OH", "pokemon"), (180, "DITTO", "pokemon"),
    (181, "CLEFAIRY", "pokemon"), (182, "TOGEPI", "pokemon"), (183, "MEW", "pokemon"),
    (184, "CELEBI", "pokemon"), (185, "STARYU", "pokemon"), (186, "CHANSEY", "pokemon"),
    (187, "PORYGON", "pokemon"), (188, "CYNDAQUIL", "pokemon"), (189, "MARILL", "pokemon"),
    (190, "VENUSAUR", "pokemon"), (191, "CHICORITA_LEAF", "projectile"),
    (192, "BLASTOISE_WATER", "projectile"), (193, "WEEZING_GAS_1", "pokemon"),
    (194, "WEEZING_GAS_2", "pokemon"), (195, "CHARIZARD_BREATH_1", "fireball"),
    (196, "CHARIZARD_BREATH_2", "fireball"), (197, "CHARIZARD_BREATH_3", "fireball"),
    (198, "CHARIZARD_BREATH_4", "fireball"), (199, "MINI_UNOWNS", "projectile"),
    (200, "LUGIA_AEROBLAST_1", "projectile"), (201, "LUGIA_AEROBLAST_2", "projectile"),
    (202, "LUGIA_AEROBLAST_3", "projectile"), (203, "HO_OH_FLAME", "fireball"),
    (204, "STARYU_STAR", "projectile"), (205, "HEALING_EGG", "item"), (206, "CYNDAQUIL_FIRE", "fireball"),
    # --- stage enemies and objects (208..236)
    (208, "OLD_GOOMBA", "stage"), (209, "TARGET", "stage"), (210, "SHYGUY", "stage"),
    (211, "KOOPA_1", "stage"), (212, "KOOPA_2", "stage"), (213, "LIKE_LIKE", "stage"),
    (216, "OLD_OTTOSEA", "stage"), (217, "WHITE_BEAR", "stage"), (218, "KLAP", "stage"),
    (219, "GREEN_SHELL_2", "stage"), (220, "RED_SHELL_2", "stage"), (221, "TINGLE", "stage"),
    (225, "APPLE", "stage"), (226, "HEALING_APPLE", "stage"), (230, "TOOL", "stage"),
    (233, "BIRDO", "stage"), (234, "ARWING_LASER", "laser"), (235, "GREAT_FOX_LASER", "laser"),
    (236, "BIRDO_EGG", "stage"),
]


def _table() -> dict[int, ItemType]:
    table: dict[int, ItemType] = {}
    for row in _ROWS:
        i, name, kind = row[:3]
        chars = row[3] if len(row) > 3 else ()
        if name.startswith("KIRBY_COPY_"):
            chars = KIRBY
        chars = chars if isinstance(chars, tuple) else (chars,)
        table[i] = ItemType(i, name, kind, chars)
    return table


ITEM_TYPES: dict[int, ItemType] = _table()

# ids named here after libmelee where ssbm-data's identifier says less: id -> ssbm-data's identifier
RENAMED: dict[int, str] = {
    78: "NessPkFlash3", 79: "SheikNeedle1", 80: "SheikNeedle2",
    81: "PikachuThunder1", 82: "PichuThunder1", 86: "YoshiEgg2", 89: "PikachuThunder2",
    90: "PikachuThunder3", 91: "PichuThunder2", 92: "PichuThunder3", 108: "ZeldaFire1", 109: "ZeldaFire2",
    123: "GameAndWatchMilk", 147: "KirbyCopyPikachuThunder1", 148: "KirbyCopyPikachuThunder2",
    149: "KirbyCopyPichuThunder1", 150: "KirbyCopyPichuThunder2", 152: "KirbyCopySheikNeedle1",
    153: "KirbyCopySheikNeedle2",
}

# Ids seen in real games that no source names, with where they were seen (see the module docstring)
UNKNOWN_SEEN: dict[int, str] = {
    52: "between KIRBY_HAMMER 51 and FOX_LASER 54; no owner; ../shared/replays, one instance",
    110: "between Din's Fire (108, 109) and PEACH_TOAD_SPORE 111; data/all-store only",
    156: "Kirby, while in GAME_AND_WATCH_CHEF (a copy of Game & Watch's chef; its sausage is 155)",
}


def item_type(type_id: int) -> ItemType | None:
    return ITEM_TYPES.get(int(type_id))


def item_name(type_id: int) -> str:
    """The type's name, or `ITEM_0x34` for an id without one."""
    t = ITEM_TYPES.get(int(type_id))
    return t.name if t is not None else f"ITEM_0x{int(type_id):02X}"


def item_kind(type_id: int) -> str:
    """How the type is drawn (one of `KINDS`); 'unknown' for an id without a name."""
    t = ITEM_TYPES.get(int(type_id))
    return t.kind if t is not None else "unknown"


def is_listed_unknown(type_id: int) -> bool:
    return int(type_id) in UNKNOWN_SEEN
