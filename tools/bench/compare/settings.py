"""The comparison's sizes and switches, from the environment (tools/bench/compare-activemq.sh
documents them). QUICK=1 gives small counts and 2 rounds, for development and smoke tests; the
full form is what the README's figures come from."""

import os
import re
from dataclasses import asdict, dataclass, fields

FULL = dict(rounds=5, a_seconds=10, b_seconds=10, stream_count=50000, fanout_count=10000, connections=10000,
            hold=5, failover_runs=5, warm_seconds=2, warm_count=5000, warm_fanout=1000, pre_fault_s=2)
QUICK = dict(rounds=2, a_seconds=2, b_seconds=2, stream_count=2000, fanout_count=1000, connections=1000,
             hold=1, failover_runs=1, warm_seconds=0.5, warm_count=500, warm_fanout=200, pre_fault_s=1)


@dataclass
class Settings:
    quick: bool
    rounds: int
    a_seconds: float
    b_seconds: float
    stream_count: int
    fanout_count: int
    connections: int
    hold: float
    failover_runs: int
    warm_seconds: float
    warm_count: int
    warm_fanout: int
    pre_fault_s: float
    producers: int = 8
    subscribers: int = 8
    size: int = 1024
    phase_s: float = 10.0          # failover: a random 0..phase_s more load before each kill
    settle_s: float = 6.0          # after (c), before the disk is measured (KahaDB checkpoints every 5 s)
    brokers: tuple = ("activemq", "tandem")
    failover: bool = True
    chart: bool = True             # CHART=0: no gnuplot, only the .gp script is written
    amq_lock_ms: int = 500
    amq_transport: str = "stomp+nio"
    amq_java_opts: str = ""
    amq_kahadb: str = ""           # extra <kahaDB> attributes, e.g. concurrentStoreAndDispatchQueues="false"

    @staticmethod
    def from_env(env=None):
        env = os.environ if env is None else env
        quick = env.get("QUICK", "0") == "1"
        values = dict(QUICK if quick else FULL, quick=quick)
        for f in fields(Settings):
            name = f.name.upper()
            if f.name in ("quick", "brokers", "failover", "chart") or name not in env:
                continue
            try:
                values[f.name] = f.type(env[name])  # int, float or str, as declared
            except ValueError:
                raise ValueError(f"{name}={env[name]!r} is not a {f.type.__name__}") from None
        brokers = tuple(b.strip() for b in env.get("BROKERS", "activemq,tandem").split(",") if b.strip())
        bad = [b for b in brokers if b not in ("activemq", "tandem")]
        if bad or not brokers:
            raise ValueError(f"BROKERS={env.get('BROKERS')!r}: a comma-separated list of activemq and tandem")
        values["brokers"] = brokers
        values["failover"] = env.get("FAILOVER", "1") != "0"
        values["chart"] = env.get("CHART", "1") != "0"
        s = Settings(**values)
        if s.rounds < 1 or s.stream_count < 1 or s.connections < 1 or s.failover_runs < 1:
            raise ValueError("ROUNDS, STREAM_COUNT, CONNECTIONS and FAILOVER_RUNS must be at least 1")
        if not re.fullmatch(r'(\s*[A-Za-z]+="[^"<>&]*")*\s*', s.amq_kahadb):
            raise ValueError(f"AMQ_KAHADB={s.amq_kahadb!r}: attributes of <kahaDB>, e.g. "
                             f'journalMaxFileLength="64mb" concurrentStoreAndDispatchQueues="false"')
        if s.amq_transport not in ("stomp", "stomp+nio"):
            raise ValueError(f"AMQ_TRANSPORT={s.amq_transport!r}: stomp or stomp+nio")
        return s

    def as_dict(self):
        d = asdict(self)
        d["brokers"] = list(self.brokers)
        return d
