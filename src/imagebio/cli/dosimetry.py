"""`imagebio dosimetry`: PLAN.yaml workflow (default command) and the physicists' calculators.

* ``imagebio dosimetry PLAN.yaml [--out DIR] [--db URL] [--json]`` → dose table, DVH plot, dose maps (NIfTI, RT Dose),
  cumulative BED and next-cycle activity;
* ``imagebio dosimetry bed --dose-gy D --alpha-beta-gy A --repair-half-life-h R --effective-half-life-h T
  [--fractions N] [--json]``;
* ``imagebio dosimetry y90-partition --tumour-mass-kg ... --normal-mass-kg ... --tnr ... --lung-shunt F
  (--target-normal-gy G | --activity-gbq A) [--json]``;
* ``imagebio dosimetry kernel --nuclide lu177 --voxel-mm 3.9 --tissue soft --out kernel.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from imagebio.cli._groups import default_group

app = typer.Typer(
    cls=default_group("plan"),
    help="Radionuclide-therapy dosimetry: PLAN.yaml workflow and BED / Y-90 / kernel calculators.",
    no_args_is_help=True,
)


@app.command("plan")
def plan_command(
    plan: Annotated[Path, typer.Argument(help="PLAN.yaml (time points, VOIs, nuclide, calibration, method).")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (default: the plan's 'output').")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Store the results as Measurements in this store.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (rows, next cycle, files).")] = False,
) -> None:
    """Run a dosimetry plan: TAC per VOI, TIA, absorbed dose, DVH, BED and next-cycle activity."""
    from rich.table import Table

    from imagebio.cli._console import console, progress_bar
    from imagebio.dosimetry.plan import load_plan, run_plan, store_results, write_outputs

    parsed = load_plan(plan)
    with progress_bar("dosimetry") as progress:
        result = run_plan(parsed, progress=progress)
    paths = write_outputs(result, out)
    stored = None
    if db:
        from imagebio.store import open_store

        store = open_store(db)
        try:
            stored = store_results(result, store)
        finally:
            store.close()
    if as_json:
        payload = {"rows": result.rows, "next_cycle": result.next_cycle,
                   "registration": [None if q is None else q.as_dict() for q in result.spect.registrations],
                   "files": {k: str(v) for k, v in paths.items()}, "stored_values": stored}
        typer.echo(json.dumps(payload, default=float))
        return
    table = Table(title=f"Absorbed dose - {parsed.nuclide}, {result.spect.administration.activity_bq / 1e9:.3g} GBq")
    for column in ("VOI", "kind", "mass g", "TIA MBq·h", "model", "T_eff h", "mean Gy", "Gy/GBq", "D90 Gy",
                   "BED Gy", "cum. BED Gy"):
        table.add_column(column, justify="left" if column in ("VOI", "kind", "model") else "right")
    for r in result.rows:
        table.add_row(
            r["voi"], r["kind"], f"{r['mass_g']:.1f}", f"{r['tia_bq_s'] / 3.6e9:.4g}", r["tac_model"],
            f"{r['effective_half_life_h']:.1f}", f"{r['mean_dose_gy']:.3g}", f"{r['dose_per_gbq_gy']:.3g}",
            f"{r['D90_gy']:.3g}", f"{r.get('bed_gy', float('nan')):.3g}", f"{r.get('cumulative_bed_gy', float('nan')):.3g}",
        )
    console.print(table)
    for t_s, quality in zip(result.spect.times_s, result.spect.registrations):
        if quality is not None:
            shift = ", ".join(f"{v:.1f}" for v in quality.translation_mm)
            console.print(
                f"scan at {t_s / 3600:.1f} h → first scan: {quality.method}, MI {quality.metric_value:.3f}, "
                f"correlation {quality.correlation_before:.3f} → {quality.correlation_after:.3f}, "
                f"shift ({shift}) mm", highlight=False,
            )
    nxt = result.next_cycle
    if nxt["max_activity_gbq"] is not None:
        console.print(f"next cycle: at most {nxt['max_activity_gbq']:.3g} GBq "
                      f"({nxt['limiting_voi']} {nxt['binding_limit']} limit)", highlight=False)
    for key, path in paths.items():
        console.print(f"{key}: {path}", highlight=False)
    if stored is not None:
        console.print(f"{stored} values stored in {db}", highlight=False)


@app.command("bed")
def bed_command(
    dose_gy: Annotated[float, typer.Option("--dose-gy", help="Total absorbed dose of the course, Gy.")],
    alpha_beta_gy: Annotated[float, typer.Option("--alpha-beta-gy", help="α/β, Gy.")],
    repair_half_life_h: Annotated[float, typer.Option("--repair-half-life-h", help="Repair half-time, h.")],
    effective_half_life_h: Annotated[float, typer.Option("--effective-half-life-h", help="Effective half-life, h.")],
    fractions: Annotated[int, typer.Option("--fractions", help="Number of equal administrations.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print {bed_gy, eqd2_gy} as JSON.")] = False,
) -> None:
    """BED and EQD2 of a course of N equal administrations (instant uptake, mono-exponential clearance)."""
    from imagebio.cli._console import console
    from imagebio.dosimetry.radiobiology import bed_multi_cycle_gy, eqd2_gy
    from imagebio.errors import InvalidParameterError

    if fractions < 1:
        raise InvalidParameterError("--fractions", fractions, "a positive number of administrations")
    per = dose_gy / fractions
    bed = bed_multi_cycle_gy([per] * fractions, alpha_beta_gy, repair_half_life_h, effective_half_life_h)
    eqd2 = float(eqd2_gy(bed, alpha_beta_gy))
    if as_json:
        typer.echo(json.dumps({"bed_gy": bed, "eqd2_gy": eqd2}))
        return
    console.print(f"BED = {bed:.4f} Gy\nEQD2 = {eqd2:.4f} Gy  ({fractions} × {per:.4g} Gy, α/β {alpha_beta_gy:g} Gy, "
                  f"T_rep {repair_half_life_h:g} h, T_eff {effective_half_life_h:g} h)", highlight=False)


@app.command("y90-partition")
def y90_partition_command(
    tumour_mass_kg: Annotated[float, typer.Option("--tumour-mass-kg", help="Tumour mass, kg.")],
    normal_mass_kg: Annotated[float, typer.Option("--normal-mass-kg", help="Perfused normal liver mass, kg.")],
    tnr: Annotated[float, typer.Option("--tnr", help="Tumour-to-normal activity-concentration ratio (MAA).")],
    lung_shunt: Annotated[float, typer.Option("--lung-shunt", help="Lung shunt fraction, 0-1.")],
    lung_mass_kg: Annotated[float, typer.Option("--lung-mass-kg", help="Lung mass, kg.")] = 1.0,
    gy_kg_per_gbq: Annotated[float, typer.Option("--gy-kg-per-gbq", help="Y-90 energy constant.")] = 49.67,
    target_normal_gy: Annotated[
        Optional[float], typer.Option("--target-normal-gy", help="Target normal-liver dose, Gy.")
    ] = None,
    activity_gbq: Annotated[Optional[float], typer.Option("--activity-gbq", help="Planned activity, GBq.")] = None,
    previous_lung_gy: Annotated[float, typer.Option("--previous-lung-gy", help="Earlier lung dose, Gy.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Y-90 partition model (Ho et al. 1996): activity for a normal-liver dose, or doses for an activity."""
    from imagebio.cli._console import console
    from imagebio.dosimetry.planning import partition_model, y90_lung_dose_check
    from imagebio.errors import InvalidParameterError

    if (target_normal_gy is None) == (activity_gbq is None):
        raise InvalidParameterError(
            "--target-normal-gy/--activity-gbq", (target_normal_gy, activity_gbq), "exactly one of the two"
        )
    if target_normal_gy is None:
        # the model is linear in the normal-liver dose: scale a 1 Gy plan to the given activity
        unit = partition_model(1.0, tumour_mass_kg, normal_mass_kg, tnr, lung_shunt, lung_mass_kg=lung_mass_kg,
                               k_gy_kg_per_gbq=gy_kg_per_gbq)
        if not activity_gbq > 0:
            raise InvalidParameterError("--activity-gbq", activity_gbq, "a positive activity in GBq")
        target_normal_gy = activity_gbq / unit.activity_gbq
    plan = partition_model(target_normal_gy, tumour_mass_kg, normal_mass_kg, tnr, lung_shunt,
                           lung_mass_kg=lung_mass_kg, k_gy_kg_per_gbq=gy_kg_per_gbq)
    lung = y90_lung_dose_check(plan.lung_dose_gy, previous_lung_gy)
    payload = {"activity_gbq": plan.activity_gbq, "tumour_dose_gy": plan.tumour_dose_gy,
               "normal_dose_gy": plan.normal_liver_dose_gy, "lung_dose_gy": plan.lung_dose_gy,
               "cumulative_lung_dose_gy": lung["cumulative_lung_dose_gy"], "lung_limits_ok": lung["ok"]}
    if as_json:
        typer.echo(json.dumps(payload))
        return
    console.print(
        f"activity     {plan.activity_gbq:.4f} GBq\ntumour dose  {plan.tumour_dose_gy:.2f} Gy\n"
        f"normal liver {plan.normal_liver_dose_gy:.2f} Gy\nlung dose    {plan.lung_dose_gy:.2f} Gy "
        f"(cumulative {lung['cumulative_lung_dose_gy']:.2f} Gy; limits 30 Gy/treatment, 50 Gy cumulative: "
        f"{'ok' if lung['ok'] else 'EXCEEDED'})",
        highlight=False,
    )


@app.command("kernel")
def kernel_command(
    nuclide: Annotated[str, typer.Option("--nuclide", help="e.g. lu177, Y-90, 131I.")],
    voxel_mm: Annotated[float, typer.Option("--voxel-mm", help="Cubic voxel size, mm.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write (i,j,k,s_mgy_per_mbq_s).")],
    tissue: Annotated[str, typer.Option("--tissue", help="soft or bone.")] = "soft",
) -> None:
    """Voxel S-value kernel octant (Lanconelli 2012), log-log interpolated between tabulated voxel sizes."""
    import csv

    from imagebio.cli._console import console
    from imagebio.dosimetry.kernels import load_voxel_s_kernel
    from imagebio.dosimetry.svalues import MGY_PER_MBQ_S

    kernel = load_voxel_s_kernel(nuclide, voxel_mm, tissue)
    values = kernel.s_gy_per_bq_s / MGY_PER_MBQ_S
    centre = values.shape[0] // 2
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["i", "j", "k", "s_mgy_per_mbq_s"])
        for i in range(centre + 1):
            for j in range(centre + 1):
                for k in range(centre + 1):
                    writer.writerow([i, j, k, f"{values[centre + i, centre + j, centre + k]:.6g}"])
    console.print(
        f"{kernel.nuclide} {tissue} {voxel_mm:g} mm kernel ({'interpolated' if kernel.interpolated else 'tabulated'}),"
        f" S(0,0,0) = {values[centre, centre, centre]:.6g} mGy/(MBq·s) → {out}",
        highlight=False,
    )
