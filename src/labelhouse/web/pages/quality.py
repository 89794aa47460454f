"""The project quality page: agreement per field, annotator scorecards and scatter,
preference checks and disagreement hot spots — all server-rendered, charts as SVG."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from labelhouse.accounts.models import Role
from labelhouse.projects.service import get_project
from labelhouse.quality_report import service as quality
from labelhouse.quality_report.fields import METHODS
from labelhouse.quality_report.stored import Freshness
from labelhouse.web.api.quality import recompute_if_stale
from labelhouse.web.charts import Bar, Point, bar_chart, scatter_chart
from labelhouse.web.deps import Ctx
from labelhouse.web.pages.common import page_session, project_tabs, render, widget_stylesheet
from labelhouse.web.pages.quality_acceptance import acceptance_context
from labelhouse.web.params import Id
from labelhouse.web.reliability_chart import reliability_chart

router = APIRouter(include_in_schema=False)

METRIC_NAMES = {
    "percent_agreement": "Percent agreement",
    "agreement_rate": "Agreement rate, pooled over pairs",
    "fleiss_kappa": "Fleiss' κ",
    "alpha_nominal": "Krippendorff's α (nominal)",
    "alpha_ordinal": "Krippendorff's α (ordinal)",
    "alpha_interval": "Krippendorff's α (interval)",
    "pair_kappa_mean": "Cohen's κ, mean over pairs",
    "pair_kappa_min": "Cohen's κ, lowest pair",
    "pair_kappa_max": "Cohen's κ, highest pair",
    "mean_pairwise_agreement": "Mean pairwise agreement",
    "span_f1_exact": "Span F1 (exact)",
    "span_f1_overlap": "Span F1 (overlap)",
    "box_f1": "Box F1 (IoU ≥ 0.5)",
    "kendall_tau_mean": "Kendall's τ, mean over pairs",
    "mean_similarity": "Mean text similarity (the field's similarity function)",
}


METHOD_NAMES = {
    "majority": "majority",
    "dawid_skene": "Dawid–Skene",
    "gold_weighted": "gold-weighted vote",
}


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now" if seconds < 5 else f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def analysis_line(state: Freshness | None) -> str:
    """E.g. "Computed 2 min ago, 12 new answers since — recomputing." """
    if state is None:
        return ""
    text = f"Computed {_ago(state.age_seconds)}"
    if state.fresh:
        return f"{text}, from every answer so far."
    if state.new_answers:
        s = "" if state.new_answers == 1 else "s"
        text += f", {state.new_answers:,} new answer{s} since"
    else:
        text += ", answers changed since"
    return text + (" — recomputing." if state.recomputing else ".")


def _short(email: str) -> str:
    return email.partition("@")[0][:18]


@router.get("/projects/{project_id}/quality", response_class=HTMLResponse)
def quality_page(
    project_id: Id, ctx: Ctx, method: str = "majority", fresh: bool = False
) -> HTMLResponse:
    with page_session(ctx) as (s, actor, csrf):
        report = quality.project_report(s, actor, project_id, method=method, fresh=fresh, db=ctx.db)
        recompute_if_stale(ctx, actor, project_id, method, report.analysis)
        agreement_chart = bar_chart(
            [
                Bar(
                    label=f.name,
                    value=round(100 * f.agreement, 1) if f.agreement is not None else 0,
                    title=f"{f.name}: "
                    + (f"{100 * f.agreement:.1f}% agreement" if f.agreement is not None else "n/a"),
                )
                for f in report.fields
            ],
            label="Agreement per field, percent",
            height=180,
        )
        points = [
            Point(
                x=c.median_seconds,
                y=c.ds_accuracy if c.ds_accuracy is not None else c.consensus_agreement,  # type: ignore[arg-type]
                label=_short(c.email),
                title=f"{c.email}: accuracy "
                f"{(c.ds_accuracy if c.ds_accuracy is not None else c.consensus_agreement):.2f}, "
                f"{c.median_seconds:.1f} s per task"
                + (f" — {', '.join(c.flags)}" if c.flags else ""),
                flagged=bool(c.flags),
            )
            for c in report.scorecards
            if c.median_seconds is not None
            and (c.ds_accuracy is not None or c.consensus_agreement is not None)
        ]
        uses_ds = any(c.ds_accuracy is not None for c in report.scorecards)
        scatter = (
            scatter_chart(
                points,
                label="Annotators: accuracy against median seconds per task",
                x_label="median seconds per task",
                y_label="Dawid–Skene accuracy" if uses_ds else "agreement with consensus",
            )
            if points
            else None
        )
        return render(
            ctx.request,
            "quality.html",
            actor=actor.in_project(project_id),
            csrf_token=csrf,
            project=get_project(s, actor, project_id),
            tabs=project_tabs(actor, project_id),
            current_tab="quality",
            report=report,
            analysis_line=analysis_line(report.analysis),
            agreement_chart=agreement_chart,
            scatter=scatter,
            uses_ds=uses_ds,
            calibration_charts={
                f.name: reliability_chart(
                    f.calibration.bins_before,
                    f.calibration.bins_after,
                    label=f"{f.name}: consensus confidence against accuracy on gold tasks",
                )
                for f in report.fields
                if f.calibration is not None and f.calibration.bins_before
            },
            methods=METHODS,
            method_names=METHOD_NAMES,
            metric_names=METRIC_NAMES,
            emails={c.user_id: c.email for c in report.scorecards},
            can_manage=actor.in_project(project_id).at_least(Role.manager),
            widget_css=widget_stylesheet(),
            # for static/js/quality-answers.js: a hot spot's answers, with their authors
            answers_config={
                "project": project_id,
                "emails": {str(c.user_id): c.email for c in report.scorecards},
            },
            **acceptance_context(report.acceptance),
        )
