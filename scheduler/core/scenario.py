"""Smart-ICU placement scenarios: the demo node inventory, patient tasks and
a seeded generator, plus ``ward_problem`` to build a problem from live data.

Figures come from public edge/fog/cloud simulators, named per value:
iFogSim ``src/org/fog/test/perfeval/ArrhythmiaApp.java`` (Cloudslab/iFogSim1,
an ECG arrhythmia monitoring case), iFogSim ``VRGameFog.java``, EdgeCloudSim
``scripts/sample_app1/config`` (CagataySonmez/EdgeCloudSim), and the task
ranges of Nguyen et al., Applied Sciences 9:1730 (2019). Values marked
"estimate" are ours.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .problem import PROFILES, Link, Node, Problem, Task, TaskKind, Tier, Weights

# NEWS2 risk bands (Royal College of Physicians, 2017) to clinical urgency:
# the latency of a high-risk patient's tasks counts four times as much as a
# low-risk patient's. "low-medium" is the band for a single parameter
# scoring 3 with an aggregate of 0 to 4.
URGENCY_BY_RISK = {"low": 1.0, "low-medium": 2.0, "medium": 3.0, "high": 4.0}

# Objective units per moved task. The normalised objective of a ward lies in
# 0 to 1, so 0.002 keeps a task in place unless moving it gains more than
# 0.2 % of the ward's worst-case range (an estimate, tune per ward).
DEFAULT_MIGRATION_PENALTY = 0.002


@dataclass(frozen=True)
class TaskProfile:
    mi_per_run: float
    runs_per_s: float
    input_kb: float
    memory_mb: float
    deadline_ms: float | None
    min_security: int
    sensitivity: float
    follows_risk: bool


TASK_PROFILES = {
    # ECG tuple of ArrhythmiaApp: 500 MI and 500 B per sample, a sample
    # every 6.1 ms; synced in half-second batches of 82 samples (41 KB).
    # Raw waveforms are identifiable, so sensitivity 1. Deadline: estimate.
    TaskKind.ECG_SYNC: TaskProfile(500, 2.0, 41.0, 64, 250.0, 2, 1.0, True),
    # Classifier step of ArrhythmiaApp: 3,500 MI on a 500 B tuple, run once
    # a second here. Deadline and memory: estimates.
    TaskKind.ANOMALY_DETECTION: TaskProfile(3500, 1.0, 0.5, 256, 1500.0, 2, 0.8, True),
    # EdgeCloudSim health application: 400 MI, 1,250 KB up, a task every
    # 30 s on average. Memory and deadline: estimates.
    TaskKind.RISK_INFERENCE: TaskProfile(
        400, 1 / 30, 1250.0, 512, 2000.0, 3, 0.8, True
    ),
    # Retraining: 20,000 MI and 10 MB of input, inside the 1 to 100 billion
    # instructions and 10 to 100 MB of Nguyen et al.; every 5 minutes, no
    # deadline. Pseudonymised features, so sensitivity 0.5.
    TaskKind.MODEL_UPDATE: TaskProfile(
        20000, 1 / 300, 10000.0, 1024, None, 3, 0.5, False
    ),
}

# Paths from a node to a bed it serves: (latency ms, bandwidth Mbit/s).
# ArrhythmiaApp: ECG sensor to bedside device 6 ms, device to fog gateway
# 10 ms, gateway to cloud 100 ms. EdgeCloudSim: WLAN 200 Mbps, WAN 15 Mbps.
EDGE_PATH = (6.0, 200.0)
FOG_PATH = (16.0, 200.0)
CLOUD_PATH = (116.0, 15.0)
# The healthcare region is farther away (estimate, inside the 50 to 200 ms
# cloud range that fog studies assume).
HEALTH_CLOUD_PATH = (166.0, 15.0)
DEFAULT_PATHS = {Tier.EDGE: EDGE_PATH, Tier.FOG: FOG_PATH, Tier.CLOUD: CLOUD_PATH}

BEDS_PER_WARD = 12


def urgency_for_risk(risk: str) -> float:
    """Return the clinical urgency of a NEWS2 risk band."""
    try:
        return URGENCY_BY_RISK[risk]
    except KeyError:
        allowed = ", ".join(URGENCY_BY_RISK)
        raise ValueError(
            f"risk={risk!r} is invalid: expected one of {allowed}"
        ) from None


def patient_tasks(
    bed: str,
    urgency: float = 1.0,
    scale=None,
    mi_per_run: Mapping[TaskKind, float] | None = None,
) -> list[Task]:
    """Return the four twin tasks of the patient in ``bed``.

    ``scale`` maps a task kind to a factor on its compute demand per run,
    for scenarios that vary patients; None keeps the profile figures.
    ``mi_per_run`` replaces the profiles' compute demand per run, for
    figures measured on this product's own task code.
    """
    tasks = []
    for kind, profile in TASK_PROFILES.items():
        factor = 1.0 if scale is None else scale[kind]
        demand = profile.mi_per_run if mi_per_run is None else mi_per_run[kind]
        tasks.append(
            Task(
                id=f"{bed}/{kind.value}",
                bed=bed,
                kind=kind,
                mi_per_run=demand * factor,
                runs_per_s=profile.runs_per_s,
                input_kb=profile.input_kb,
                memory_mb=profile.memory_mb,
                deadline_ms=profile.deadline_ms,
                urgency=urgency if profile.follows_risk else 1.0,
                min_security=profile.min_security,
                sensitivity=profile.sensitivity,
            )
        )
    return tasks


def demo_nodes(ward: str, bed_ids: Iterable[str]) -> list[Node]:
    """Return the demo inventory of one ward: an edge device per bed, two fog
    servers and the two cloud regions (shared by all wards, ids fixed)."""
    nodes = [
        # Raspberry Pi 3 class sensor node of ArrhythmiaApp: 3,500 MIPS,
        # 1 GB, ratePerMips 0. Security 2: data stays inside the hospital
        # but the device sits at the bedside (estimate).
        Node(f"edge-{bed}", Tier.EDGE, 3500, 1000, 2, bed=bed, ward=ward)
        for bed in bed_ids
    ]
    nodes += [
        # Fog gateway of ArrhythmiaApp: 40,000 MIPS, 16 GB, ratePerMips 0.
        # Fixed cost for power and upkeep of a server: estimate.
        Node(f"fog-{ward}-1", Tier.FOG, 40000, 16000, 4,
             fixed_cost_per_hour=10.0, ward=ward),
        # Proxy server of VRGameFog: 2,800 MIPS, 4,000 MB (an older box).
        Node(f"fog-{ward}-2", Tier.FOG, 2800, 4000, 3,
             fixed_cost_per_hour=3.0, ward=ward),
    ]  # fmt: skip
    nodes += cloud_nodes()
    return nodes


def cloud_nodes() -> list[Node]:
    return [
        # General-purpose region: ArrhythmiaApp cloud, 150,000 MIPS,
        # ratePerMips 0.01; data transfer 0.01 per MB, the low end of the
        # 0.01 to 0.05 of Nguyen et al.
        Node("cloud-general", Tier.CLOUD, 150000, 400000, 3,
             cost_per_mips_hour=0.01, cost_per_gb=10.0),
        # Region under a healthcare data agreement: EdgeCloudSim cloud VM,
        # 4 cores of 10,000 MIPS and 32 GB; 1.5 times the general price
        # (estimate).
        Node("cloud-health", Tier.CLOUD, 40000, 32000, 5,
             cost_per_mips_hour=0.015, cost_per_gb=15.0),
    ]  # fmt: skip


def demo_paths(nodes: Iterable[Node]) -> dict[str, tuple[float, float]]:
    """Return (latency ms, bandwidth Mbit/s) from each demo node to its beds."""
    return {
        node.id: HEALTH_CLOUD_PATH
        if node.id == "cloud-health"
        else DEFAULT_PATHS[node.tier]
        for node in nodes
    }


def ward_problem(
    beds: Mapping[str, str],
    nodes: Iterable[Node],
    weights: Weights | str = "balanced",
    current: Mapping[str, str] | None = None,
    paths: Mapping[str, tuple[float, float]] | None = None,
    migration_penalty: float = DEFAULT_MIGRATION_PENALTY,
) -> Problem:
    """Build the placement problem of one ward from live data.

    ``beds`` maps each bed id to its patient's NEWS2 risk band (low,
    low-medium, medium, high), which sets the urgency of its tasks.
    ``weights`` is a ``Weights`` or a profile name (latency, security,
    balanced). ``paths`` gives each node's (latency ms, bandwidth Mbit/s)
    to the beds it serves, by default the demo figures per tier. An edge
    device serves only its own bed, a fog server the beds of its ward (or
    every bed if it names no ward) and a cloud region every bed.
    """
    nodes = list(nodes)
    weights = _weights(weights)
    paths = dict(demo_paths(nodes), **(paths or {}))
    tasks = []
    for bed, risk in beds.items():
        tasks += patient_tasks(bed, urgency_for_risk(risk))
    links = [
        Link(node.id, bed, *paths[node.id])
        for node in nodes
        for bed in beds
        if _serves(node, bed)
    ]
    return Problem(
        tuple(tasks),
        tuple(nodes),
        tuple(links),
        weights,
        current=current,
        migration_penalty=migration_penalty,
    )


def _weights(weights: Weights | str) -> Weights:
    if isinstance(weights, Weights):
        return weights
    if weights not in PROFILES:
        raise ValueError(
            f"weights={weights!r} is invalid: expected a Weights or one of "
            f"{', '.join(PROFILES)}"
        )
    return PROFILES[weights]


def _serves(node: Node, bed: str) -> bool:
    if node.tier is Tier.EDGE:
        return node.bed == bed
    return True


def icu_scenario(
    patients: int,
    seed: int = 0,
    weights: Weights | str = "balanced",
    beds_per_ward: int = BEDS_PER_WARD,
) -> Problem:
    """Generate a seeded ICU with ``patients`` beds in wards of up to
    ``beds_per_ward``, each ward with two fog servers, and two cloud regions.

    Risk bands are drawn with probabilities 0.5 low, 0.2 low-medium, 0.2
    medium and 0.1 high; each task's compute demand per run varies by up to
    20 % around its profile.
    """
    if isinstance(patients, bool) or not isinstance(patients, int) or patients < 1:
        raise ValueError(f"patients={patients!r} is invalid: expected an integer >= 1")
    weights = _weights(weights)
    if (
        isinstance(beds_per_ward, bool)
        or not isinstance(beds_per_ward, int)
        or beds_per_ward < 1
    ):
        raise ValueError(
            f"beds_per_ward={beds_per_ward!r} is invalid: expected an integer >= 1"
        )
    rng = random.Random(seed)
    bands = list(URGENCY_BY_RISK)
    nodes, tasks, links = [], [], []
    for ward_number, start in enumerate(range(0, patients, beds_per_ward), 1):
        ward = f"w{ward_number}"
        bed_ids = [
            f"{ward}-bed-{k:02d}"
            for k in range(1, min(beds_per_ward, patients - start) + 1)
        ]
        ward_nodes = [node for node in demo_nodes(ward, bed_ids)
                      if node.tier is not Tier.CLOUD]  # fmt: skip
        nodes += ward_nodes
        paths = demo_paths(ward_nodes + cloud_nodes())
        for bed in bed_ids:
            risk = rng.choices(bands, weights=(0.5, 0.2, 0.2, 0.1))[0]
            scale = {kind: rng.uniform(0.8, 1.2) for kind in TASK_PROFILES}
            tasks += patient_tasks(bed, urgency_for_risk(risk), scale)
            for node in ward_nodes + cloud_nodes():
                if node.tier is not Tier.EDGE or node.bed == bed:
                    links.append(Link(node.id, bed, *paths[node.id]))
    nodes += cloud_nodes()
    return Problem(tuple(tasks), tuple(nodes), tuple(links), weights)
