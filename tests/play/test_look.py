"""Poses, looks and stage outlines that the page draws from (`play.look`)."""

from dreamland.play import look as L
from dreamland.schema import actions as A
from dreamland.schema import characters as C
from dreamland.schema import stages as S


def test_every_action_has_a_pose_the_page_knows():
    for i in range(A.ACTION_VOCAB + 200):
        for air in (False, True):
            assert L.pose_of(i, air) in L.POSES, i


def test_poses_of_well_known_states():
    Act = A.Action
    cases = {Act.STANDING: "stand", Act.WALK_SLOW: "walk", Act.DASHING: "dash", Act.CROUCHING: "crouch",
             Act.JUMPING_FORWARD: "jump", Act.FALLING: "fall", Act.NAIR: "aerial", Act.FSMASH_MID: "ground_attack",
             Act.GRAB: "grab", Act.SHIELD: "shield", Act.DAMAGE_HIGH_1: "hitstun", Act.TUMBLING: "tumble",
             Act.EDGE_HANGING: "ledge", Act.DEAD_LEFT: "dead", Act.ON_HALO_DESCENT: "respawn",
             Act.LYING_GROUND_UP: "down", Act.SPOTDODGE: "dodge"}
    for action, pose in cases.items():
        assert L.pose_of(int(action), False) == pose, action.name
    assert L.pose_of(0x168, False) == "special"  # a character-specific state (Fox's reflector)
    assert L.pose_of(int(Act.STANDING), False, dead=True) == "dead"


def test_every_character_has_a_look_with_its_documented_size():
    looks = L.looks()
    for ch in C.CHARACTERS:
        lk = looks[str(ch.internal_id)]
        assert lk["shape"] in L.SHAPES and lk["height"] == ch.height and lk["width"] == ch.width


def test_stage_outlines_follow_the_stage_facts():
    for sid in S.LEGAL_STAGES_EXTERNAL:
        g = S.geometry(sid)
        out = L.stage_outline(sid)
        assert out[0] == [-g.ground_x, g.ground_y]
        assert [g.ground_x, g.ground_y] in out
        assert max(y for _, y in out) <= max(0.0, g.ground_y) + 1e-9  # nothing above the floor
    ys = L.stage_outline(S.YOSHIS_STORY)
    assert [-39.0, 0.0] in ys and [39.0, 0.0] in ys  # the slope down to the edges
