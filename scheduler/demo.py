"""Seed the demo node inventory and the weight profiles.

The figures are those of ``scheduler.core.scenario``, which cites where each
one comes from; ``source`` on each row repeats the citation for admins.
"""

from scheduler.core import PROFILE_LABELS, PROFILES, Tier, scenario
from scheduler.models import ComputeNode, WeightProfile
from twins.models import Bed

SOURCES = {
    Tier.EDGE: "iFogSim ArrhythmiaApp sensor node (3,500 MIPS, 1 GB)",
    Tier.FOG: "iFogSim fog gateway / VRGameFog proxy server",
    Tier.CLOUD: "iFogSim ArrhythmiaApp cloud; EdgeCloudSim cloud VM",
}


def seed_scheduler(ward):
    """Create the ward's edge, fog and cloud nodes and the three profiles.

    Existing rows are left as they are, so a second run keeps any change an
    admin made to the inventory or the weights.
    """
    beds = {bed.code: bed for bed in Bed.objects.filter(ward=ward).order_by("code")}
    nodes = scenario.demo_nodes(ward.code, beds)
    paths = scenario.demo_paths(nodes)
    for node in nodes:
        latency_ms, bandwidth_mbps = paths[node.id]
        ComputeNode.objects.get_or_create(
            name=node.id,
            defaults={
                "tier": node.tier.value,
                "ward": ward if node.tier is not Tier.CLOUD else None,
                "bed": beds[node.bed] if node.bed else None,
                "mips": node.mips,
                "memory_mb": node.memory_mb,
                "security_level": node.security_level,
                "cost_per_mips_hour": node.cost_per_mips_hour,
                "cost_per_gb": node.cost_per_gb,
                "fixed_cost_per_hour": node.fixed_cost_per_hour,
                "latency_ms": latency_ms,
                "bandwidth_mbps": bandwidth_mbps,
                "source": SOURCES[node.tier],
            },
        )
    has_active = WeightProfile.objects.filter(is_active=True).exists()
    for name, weights in PROFILES.items():
        WeightProfile.objects.get_or_create(
            name=name,
            defaults={
                "label": PROFILE_LABELS[name],
                "latency": weights.latency,
                "cost": weights.cost,
                "security": weights.security,
                "is_active": name == "balanced" and not has_active,
            },
        )
