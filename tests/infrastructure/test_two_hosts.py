"""S15 on more than one machine: two worker hosts sharing the PostgreSQL stores, a provider that loses
10 % of its answers after accepting (half after the client's timeout, half by resetting the connection
at once), shows a message in its history only 10 s after taking it (issue 29) and fails 20 % with 5xx,
host A's worker killed once during the drain → every reminder delivered, none twice (the small
version of `python -m bench.two_hosts --lost-mode both --history-lag 10`). The workers wait 60 s for
the history (six times the lag), not the default 300 s: a kill between noting an attempt and posting
it leaves an attempt the history never shows, whose SMS then goes after the wait and the retry's
back-off; the default would make that one reminder take about 9 minutes."""

from __future__ import annotations

from pathlib import Path

from testkit.two_hosts import TwoHostsConfig, run_two_hosts


async def test_S15_two_hosts_sharing_the_postgresql_ledger_deliver_each_reminder_exactly_once(
    tmp_path: Path, postgres_url: str
) -> None:
    config = TwoHostsConfig(
        n=200, stores="postgresql", kills=1, settle_s=15, lost_mode="both", history_lag=10.0, history_wait=60
    )
    result = await run_two_hosts(tmp_path, config, postgres_url)
    provider = result.provider
    assert provider["timeouts"] > 0 and provider["resets"] > 0 and provider["failed_5xx"] > 0  # they happened
    assert len(result.kills) == 1
    assert (result.delivered, result.delivered_twice, result.lost) == (200, 0, 0)
