"""A real single-node SLURM cluster on this machine for the session: munged, slurmctld and slurmd from the Debian
packages (`make install` installs them as root), configured in a temporary folder without cgroups, stopped at the
end. Where the packages are missing or the daemons do not start, every test here skips, saying why."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue")


@dataclass
class Cluster:
    folder: Path
    env: dict[str, str]  # SLURM_CONF (and the rest of os.environ) for clients: sbatch through submitit, scontrol

    def scontrol(self, *args: str) -> str:
        return subprocess.run(["scontrol", *args], env=self.env, capture_output=True, text=True, check=True).stdout

    def running_jobs(self) -> list[str]:
        out = subprocess.run(
            ["squeue", "-h", "-t", "RUNNING", "-o", "%i"], env=self.env, capture_output=True, text=True, check=True
        ).stdout
        return out.split()

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.folder.glob("*.log"))
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slurm_conf(folder: Path, host: str) -> str:
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024
    return f"""
ClusterName=alignbench-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (120 s by default).
AuthInfo=socket={folder}/munge.sock,cred_expire=10
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
# No cgroups: processes tracked by their parent ids, no task confinement.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=600
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName={host} CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> Cluster:
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        pytest.skip(f"SLURM tests need slurm-wlm and munge ({', '.join(missing)} not found): `make install` as root")
    if os.geteuid() != 0:
        pytest.skip("SLURM tests start slurmctld/slurmd as root (SlurmUser=root); not root here")
    # A short path: munge's socket path must fit a sockaddr_un (108 bytes).
    folder = Path(tmp_path_factory.mktemp("slurm", numbered=True))
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    host = socket.gethostname().split(".")[0]
    (folder / "slurm.conf").write_text(_slurm_conf(folder, host))
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    key = folder / "munge.key"
    daemons: list[subprocess.Popen] = []
    try:
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
        key.chmod(0o600)
        munge = ["munged", "--foreground", "--force", f"--key-file={key}", f"--socket={folder}/munge.sock"]
        munge += [f"--pid-file={folder}/munged.pid", f"--log-file={folder}/munged.log", f"--seed-file={folder}/seed"]
        for argv in (munge, ["slurmctld", "-D", "-i"], ["slurmd", "-D"]):
            out = open(folder / f"{argv[0]}.out", "w")  # noqa: SIM115 - closed when the fixture ends
            daemons.append(subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT))
            time.sleep(1)
        cluster = Cluster(folder, env)
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
            if done.returncode == 0 and done.stdout.strip() == "idle":
                break
            if time.monotonic() > deadline or any(d.poll() is not None for d in daemons):
                pytest.skip(f"the local SLURM cluster did not start: {done.stdout}{done.stderr}\n{cluster.logs()}")
            time.sleep(0.5)
        yield cluster
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"the local SLURM cluster could not be set up: {err}")
    finally:
        subprocess.run(["scancel", "--full", "--user=root"], env=env, capture_output=True)
        deadline = time.monotonic() + 45  # the jobs' processes end (KillWait 30 s) before their daemons do
        while time.monotonic() < deadline and daemons and daemons[-1].poll() is None:
            queue = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True)
            if queue.returncode or not queue.stdout.strip():
                break
            time.sleep(0.5)
        for daemon in reversed(daemons):  # slurmd, slurmctld, munged: each one we started, by its process
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
