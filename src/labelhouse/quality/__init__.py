"""Quality-control statistics: agreement, consensus, preference checks, annotator scores.

Pure numpy/scipy over arrays — no database, no HTTP — so every number on the quality page
can be unit-tested against reference implementations and benchmarked at a million labels.
Categorical labels travel as :class:`Labels` (long-form item/worker/label codes); spans,
boxes and pairwise judgments as plain tuples and arrays.

Submodules load on first use (PEP 562): scipy.stats costs ~0.5 s to import, which the
CLI and the web server should not pay at start-up for statistics they may never compute.
No submodule may share a name with an exported function: importing a submodule sets the
package attribute of that name, which would shadow the function (hence ``confusion_em``
for Dawid–Skene, not ``dawid_skene``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BiasTest": "labelhouse.quality.preference_checks",
    "BradleyTerryResult": "labelhouse.quality.preference",
    "Calibration": "labelhouse.quality.calibration",
    "Consensus": "labelhouse.quality.aggregation",
    "DawidSkeneResult": "labelhouse.quality.confusion_em",
    "GoldWeightedConsensus": "labelhouse.quality.aggregation",
    "Labels": "labelhouse.quality.data",
    "MatchF1": "labelhouse.quality.matching",
    "MultiLabelConsensus": "labelhouse.quality.multilabel",
    "PairKappa": "labelhouse.quality.agreement",
    "Scorecards": "labelhouse.quality.scores",
    "TextSimilarity": "labelhouse.quality.agreement",
    "Thresholds": "labelhouse.quality.scores",
    "Transitivity": "labelhouse.quality.preference_checks",
    "Voted": "labelhouse.quality.consensus",
    "agreement_with_consensus": "labelhouse.quality.scores",
    "annotator_reliability": "labelhouse.quality.preference",
    "box_consensus": "labelhouse.quality.consensus",
    "box_f1": "labelhouse.quality.matching",
    "box_iou_matrix": "labelhouse.quality.matching",
    "bradley_terry": "labelhouse.quality.preference",
    "calibrate": "labelhouse.quality.calibration",
    "choose_one_coin_prior": "labelhouse.quality.coin_prior",
    "cohen_kappa": "labelhouse.quality.agreement",
    "coincidence_matrix": "labelhouse.quality.alpha",
    "dawid_skene": "labelhouse.quality.confusion_em",
    "expected_calibration_error": "labelhouse.quality.calibration",
    "factorize": "labelhouse.quality.data",
    "fleiss_kappa": "labelhouse.quality.agreement",
    "fleiss_kappa_from_counts": "labelhouse.quality.agreement",
    "gold_accuracy": "labelhouse.quality.aggregation",
    "gold_weighted_vote": "labelhouse.quality.aggregation",
    "item_agreement": "labelhouse.quality.agreement",
    "kendall_tau": "labelhouse.quality.agreement",
    "krippendorff_alpha": "labelhouse.quality.alpha",
    "krippendorff_alpha_interval": "labelhouse.quality.alpha",
    "label_entropy": "labelhouse.quality.scores",
    "length_bias": "labelhouse.quality.preference_checks",
    "majority_vote": "labelhouse.quality.aggregation",
    "median_time": "labelhouse.quality.scores",
    "micro_f1": "labelhouse.quality.matching",
    "multilabel_dawid_skene": "labelhouse.quality.multilabel",
    "multilabel_gold_weighted": "labelhouse.quality.multilabel",
    "multilabel_majority": "labelhouse.quality.multilabel",
    "pairwise_agreement_rate": "labelhouse.quality.agreement",
    "pairwise_kappa_matrix": "labelhouse.quality.agreement",
    "percent_agreement": "labelhouse.quality.agreement",
    "position_bias": "labelhouse.quality.preference_checks",
    "position_bias_by_annotator": "labelhouse.quality.preference_checks",
    "rank_length_bias": "labelhouse.quality.preference_checks",
    "rank_position_bias": "labelhouse.quality.preference_checks",
    "rank_position_bias_by_annotator": "labelhouse.quality.preference_checks",
    "ranking_tau": "labelhouse.quality.agreement",
    "reliability_bins": "labelhouse.quality.calibration",
    "scorecards": "labelhouse.quality.scores",
    "span_consensus": "labelhouse.quality.consensus",
    "span_f1": "labelhouse.quality.matching",
    "span_iou_matrix": "labelhouse.quality.matching",
    "text_agreement": "labelhouse.quality.agreement",
    "transitivity_violations": "labelhouse.quality.preference_checks",
}

__all__ = [
    "BiasTest",
    "BradleyTerryResult",
    "Calibration",
    "Consensus",
    "DawidSkeneResult",
    "GoldWeightedConsensus",
    "Labels",
    "MatchF1",
    "MultiLabelConsensus",
    "PairKappa",
    "Scorecards",
    "TextSimilarity",
    "Thresholds",
    "Transitivity",
    "Voted",
    "agreement_with_consensus",
    "annotator_reliability",
    "box_consensus",
    "box_f1",
    "box_iou_matrix",
    "bradley_terry",
    "calibrate",
    "choose_one_coin_prior",
    "cohen_kappa",
    "coincidence_matrix",
    "dawid_skene",
    "expected_calibration_error",
    "factorize",
    "fleiss_kappa",
    "fleiss_kappa_from_counts",
    "gold_accuracy",
    "gold_weighted_vote",
    "item_agreement",
    "kendall_tau",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
    "label_entropy",
    "length_bias",
    "majority_vote",
    "median_time",
    "micro_f1",
    "multilabel_dawid_skene",
    "multilabel_gold_weighted",
    "multilabel_majority",
    "pairwise_agreement_rate",
    "pairwise_kappa_matrix",
    "percent_agreement",
    "position_bias",
    "position_bias_by_annotator",
    "rank_length_bias",
    "rank_position_bias",
    "rank_position_bias_by_annotator",
    "ranking_tau",
    "reliability_bins",
    "scorecards",
    "span_consensus",
    "span_f1",
    "span_iou_matrix",
    "text_agreement",
    "transitivity_violations",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # static analysers see the real names
    from labelhouse.quality.aggregation import (
        Consensus,
        GoldWeightedConsensus,
        gold_accuracy,
        gold_weighted_vote,
        majority_vote,
    )
    from labelhouse.quality.agreement import (
        PairKappa,
        TextSimilarity,
        cohen_kappa,
        fleiss_kappa,
        fleiss_kappa_from_counts,
        item_agreement,
        kendall_tau,
        pairwise_agreement_rate,
        pairwise_kappa_matrix,
        percent_agreement,
        ranking_tau,
        text_agreement,
    )
    from labelhouse.quality.alpha import (
        coincidence_matrix,
        krippendorff_alpha,
        krippendorff_alpha_interval,
    )
    from labelhouse.quality.calibration import (
        Calibration,
        calibrate,
        expected_calibration_error,
        reliability_bins,
    )
    from labelhouse.quality.coin_prior import choose_one_coin_prior
    from labelhouse.quality.confusion_em import DawidSkeneResult, dawid_skene
    from labelhouse.quality.consensus import Voted, box_consensus, span_consensus
    from labelhouse.quality.data import Labels, factorize
    from labelhouse.quality.matching import (
        MatchF1,
        box_f1,
        box_iou_matrix,
        micro_f1,
        span_f1,
        span_iou_matrix,
    )
    from labelhouse.quality.multilabel import (
        MultiLabelConsensus,
        multilabel_dawid_skene,
        multilabel_gold_weighted,
        multilabel_majority,
    )
    from labelhouse.quality.preference import (
        BradleyTerryResult,
        annotator_reliability,
        bradley_terry,
    )
    from labelhouse.quality.preference_checks import (
        BiasTest,
        Transitivity,
        length_bias,
        position_bias,
        position_bias_by_annotator,
        rank_length_bias,
        rank_position_bias,
        rank_position_bias_by_annotator,
        transitivity_violations,
    )
    from labelhouse.quality.scores import (
        Scorecards,
        Thresholds,
        agreement_with_consensus,
        label_entropy,
        median_time,
        scorecards,
    )
