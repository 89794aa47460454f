"""Quality-control statistics: agreement, consensus, preference checks, annotator scores.

Pure numpy/scipy over arrays — no database, no HTTP — so every number on the quality page
can be unit-tested against reference implementations and benchmarked at a million labels.
Categorical labels travel as :class:`Labels` (long-form item/worker/label codes); spans,
boxes and pairwise judgments as plain tuples and arrays.
"""

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
from labelhouse.quality.consensus import Voted, box_consensus, span_consensus
from labelhouse.quality.data import Labels, factorize
from labelhouse.quality.dawid_skene import DawidSkeneResult, dawid_skene
from labelhouse.quality.matching import (
    MatchF1,
    box_f1,
    box_iou_matrix,
    micro_f1,
    span_f1,
    span_iou_matrix,
)
from labelhouse.quality.preference import BradleyTerryResult, annotator_reliability, bradley_terry
from labelhouse.quality.preference_checks import (
    BiasTest,
    Transitivity,
    length_bias,
    position_bias,
    position_bias_by_annotator,
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

__all__ = [
    "BiasTest",
    "BradleyTerryResult",
    "Consensus",
    "DawidSkeneResult",
    "GoldWeightedConsensus",
    "Labels",
    "MatchF1",
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
    "cohen_kappa",
    "coincidence_matrix",
    "dawid_skene",
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
    "pairwise_agreement_rate",
    "pairwise_kappa_matrix",
    "percent_agreement",
    "position_bias",
    "position_bias_by_annotator",
    "ranking_tau",
    "scorecards",
    "span_consensus",
    "span_f1",
    "span_iou_matrix",
    "text_agreement",
    "transitivity_violations",
]
