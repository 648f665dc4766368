import numpy as np

from backend.core.shortcuts import discover
from backend.evaluation.shortcut_check import CheckConfig, check_table, cue_cells, reliance_table, score
from tests.support.shortcut_project import shortcut_project


def _cue_of(evidence):
    """The patch cells of the simulated project: red or blue, unlike the grey background and the green object."""
    tint = evidence.colours.astype(int)
    return np.abs(tint[..., 0] - tint[..., 2]) > 100


def test_a_flagged_patch_shortcut_scores_high_precision_and_auc_and_a_sound_model_is_not_flagged():
    biased, conflicting = shortcut_project(shortcut=True)
    row = score(discover(biased), biased, _cue_of(biased), conflicting)
    assert row["flagged"] and row["precision"] == 1.0 and row["auc"] > 0.9 and row["affected"] > 0.9
    partial, conflicting = shortcut_project(shortcut=True, partial=True)
    row = score(discover(partial), partial, _cue_of(partial), conflicting)
    assert row["flagged"] and row["precision"] == 1.0  # the object cell it also attends to is not flagged
    sound, conflicting = shortcut_project(shortcut=False)
    row = score(discover(sound), sound, _cue_of(sound), conflicting)
    assert not row["flagged"] and row["precision"] is None and row["affected"] == 0.0


def test_cue_cells_grow_by_one_cell_and_the_table_has_every_version():
    mask = np.zeros((64, 64), bool)
    mask[30:32, 30:32] = True
    cells = cue_cells([mask])[0]
    assert cells.shape == (16, 16) and cells.sum() == 5 and cells[7, 7] and cells[6, 7] and not cells[6, 6]  # and its edge neighbours
    rows = [{"kind": "patch", "seed": s, "version": v, "shifted_accuracy": 0.5, "flagged": v == "base", "precision": 0.7,
             "auc": 0.9, "affected": 0.5, "flips": 3 if v == "base" else 0, "moves": 50} for s in (0, 1) for v in ("base", "oracle")]
    rows[0] |= {"cut_flips": 20, "cut_moves": 40}  # rule 4; the other rows (rule 3) lack the fitted moves
    table = check_table(rows, CheckConfig())
    assert "| patch | base | 2 | 0.500 ± 0.000 | 6 of 100 | 20 of 40 (1 seeds) | 100% | 0.700 ± 0.000 |" in table
    assert "| patch | oracle | 2 | 0.500 ± 0.000 | 0 of 100 | - | 0% |" in table


def test_versions_are_counted_by_what_they_do_not_by_their_role():
    def row(version, test, shifted, flagged, precision=None):
        return {"kind": "logo", "seed": 0, "version": version, "test_accuracy": test, "shifted_accuracy": shifted,
                "flagged": flagged, "precision": precision}

    rows = [row("base", 1.0, 0.5, True, 0.9), row("base", 1.0, 0.95, False),  # a base that never took the cue is sound
            row("oracle", 0.55, 0.6, True, 0.1), row("oracle", 1.0, 0.98, True, 0.2), row("auto", 1.0, 1.0, False)]
    table = reliance_table(rows)
    assert "| relies | 1 | 1 (100%) | 0.900 ± 0.000 | - |" in table
    assert "| sound | 3 | 1 (33%) | 0.200 ± 0.000 | logo oracle seed 0 (test 1.00, shifted 0.98) |" in table
    assert "| no task | 1 | 1 (100%) | 0.100 ± 0.000 | - |" in table  # an oracle that did not learn counts for neither goal
