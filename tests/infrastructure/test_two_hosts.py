"""S15 on more than one machine: two worker hosts sharing the PostgreSQL stores, a provider that loses
10 % of its answers after accepting and fails 20 % with 5xx, host A's worker killed once during the
drain → every reminder delivered, none twice (the small version of `python -m bench.two_hosts`)."""

from __future__ import annotations

from pathlib import Path

from testkit.two_hosts import TwoHostsConfig, run_two_hosts


async def test_S15_two_hosts_sharing_the_postgresql_ledger_deliver_each_reminder_exactly_once(
    tmp_path: Path, postgres_url: str
) -> None:
    config = TwoHostsConfig(n=200, stores="postgresql", kills=1, settle_s=15)
    result = await run_two_hosts(tmp_path, config, postgres_url)
    assert result.provider["timeouts"] > 0 and result.provider["failed_5xx"] > 0  # the faults happened
    assert len(result.kills) == 1
    assert (result.delivered, result.delivered_twice, result.lost) == (200, 0, 0)
