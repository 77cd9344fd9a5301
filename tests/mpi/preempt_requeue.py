#!/usr/bin/env python3
"""A preempted job resumes: the job scripts `ember scale` writes, run here with stand-ins for the schedulers.

    preempt_requeue.py EMBER MPIRUN WORKDIR

Both cases train the CNN on 2 MPI ranks (the repository's CIFAR-10 sample, 3 epochs of 10 steps) and signal the
run at a random moment of its training (seeded):
  slurm  slurm.sbatch with `srun` running mpirun and `scontrol` recording its arguments. SIGTERM goes to the
         ranks alone, as `#SBATCH --signal=TERM@120` sends it: the script must exit 143 and requeue its job id.
  lsf    lsf.bsub (exec mpirun on $LSB_DJOB_HOSTFILE). SIGUSR1 goes to every process of the job, as LSF's
         warning action and `bkill -s USR1` send it; mpirun passes it on: the job must exit 138 (-Q "138 143").
Each script is then run again, as the requeued job: it must continue the stopped run (`--resume auto`) to the
same final weights, bit for bit, and the same metrics.csv and steps.csv as an uninterrupted run.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "..", "data", "samples", "cifar-10")
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OMPI_MCA_rmaps_base_oversubscribe": "1"}


def train_command(ember):
    return (f"{ember} train --model CNN --data_dir {SAMPLE} --subset 340 --val_size 6 --batch_size 16 --epochs 3 "
            "--num_workers 0 --seed 7 --experiment_name preempt")


def results_dir(out):
    dirs = [d for d in os.listdir(out) if d.startswith("preempt_")]
    assert len(dirs) == 1, f"{out}: expected one results folder, found {dirs}"
    return os.path.join(out, dirs[0])


def without_timing(path):
    """metrics.csv rows without the 12 timing columns."""
    return [",".join(line.split(",")[:-12]) for line in open(path).read().splitlines()]


def same_run(a, b):
    for name in ("last.safetensors", "steps.csv"):
        assert open(os.path.join(a, name), "rb").read() == open(os.path.join(b, name), "rb").read(), \
            f"{name} differs between {a} and {b}"
    assert without_timing(os.path.join(a, "metrics.csv")) == without_timing(os.path.join(b, "metrics.csv"))


def write_scripts(ember, work):
    os.makedirs(work)
    layouts = os.path.join(work, "layouts.yaml")
    with open(layouts, "w") as f:
        f.write(f"job_name: preempt\ncommand: {train_command(ember)}\nlayouts: [{{nodes: 1, gpus_per_node: 2}}]\n")
    subprocess.run([ember, "scale", "--layouts", layouts, "--out", os.path.join(work, "jobs")], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(work, "jobs", "preempt_1x2")


def stand_ins(work, mpirun):
    """srun: mpirun on 2 local ranks, its pid in $WORK/mpirun.pid; scontrol: appends its arguments to a log."""
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    with open(os.path.join(bin_dir, "srun"), "w") as f:
        f.write("#!/bin/sh\nwhile [ \"${1#--}\" != \"$1\" ]; do shift; done\n"
                f"{mpirun} -np 2 \"$@\" &\necho $! > {work}/mpirun.pid\nwait $!\n")
    with open(os.path.join(bin_dir, "scontrol"), "w") as f:
        f.write(f"#!/bin/sh\necho \"$@\" >> {work}/scontrol.log\n")
    for name in ("srun", "scontrol"):
        os.chmod(os.path.join(bin_dir, name), 0o755)
    return bin_dir


def wait_for_training(proc, folder_parent, deadline):
    """Until steps are being taken: the results folder exists (a stop before that has nothing to save)."""
    while time.time() < deadline and proc.poll() is None:
        if os.path.isdir(folder_parent) and any(d.startswith("preempt_") for d in os.listdir(folder_parent)):
            return
        time.sleep(0.05)


def case(name, ember, mpirun, work, reference, duration, rng):
    jobs = write_scripts(ember, os.path.join(work, name))
    env = dict(os.environ, **ROOT_ENV)
    if name == "slurm":
        env["PATH"] = stand_ins(os.path.join(work, name), mpirun) + os.pathsep + env["PATH"]
        env["SLURM_JOB_ID"] = "4242"
        argv, expected = ["bash", os.path.join(jobs, "slurm.sbatch")], 143
    else:
        with open(os.path.join(jobs, "hosts.local"), "w") as f:
            f.write("localhost slots=2\n")
        env["LSB_DJOB_HOSTFILE"] = os.path.join(jobs, "hosts.local")
        env["LSB_JOBID"] = "77"
        argv, expected = ["bash", os.path.join(jobs, "lsf.bsub")], 138
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    start = time.time()
    wait_for_training(proc, jobs, start + 60)
    time.sleep(rng.uniform(0.15, 0.5) * duration)
    if name == "slurm":
        mpirun_pid = open(os.path.join(work, name, "mpirun.pid")).read().strip()
        ranks = subprocess.run(["pgrep", "-P", mpirun_pid], stdout=subprocess.PIPE, text=True).stdout.split()
        assert len(ranks) == 2, f"expected 2 ranks under mpirun {mpirun_pid}, found {ranks}"
        for pid in ranks:
            os.kill(int(pid), signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGUSR1)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == expected, f"{name}: the stopped job exited {proc.returncode}, not {expected}\n{out}"
    stop_name = "SIGTERM" if name == "slurm" else "SIGUSR1"
    stops = [line for line in out.splitlines() if line.startswith(f"stopped by {stop_name}")]
    assert stops, f"{name}: no 'stopped by {stop_name}' line\n{out}"
    print(f"{name}: {stops[0]}")
    if name == "slurm":
        assert open(os.path.join(work, name, "scontrol.log")).read() == "requeue 4242\n"
    folder = results_dir(jobs)
    assert os.path.isfile(os.path.join(folder, "training_state.safetensors")), f"{name}: no training state saved"

    again = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert again.returncode == 0, f"{name}: the requeued job exited {again.returncode}\n{again.stdout}"
    assert f"resuming: {folder}" in again.stdout, f"{name}: the requeued job did not resume {folder}\n{again.stdout}"
    if name == "slurm":
        assert open(os.path.join(work, name, "scontrol.log")).read() == "requeue 4242\n", "a finished job requeued"
    same_run(folder, reference)
    print(f"{name}: stopped ({stop_name}, exit {expected}), requeued and resumed to the uninterrupted run's weights")


def main():
    ember, mpirun, work = sys.argv[1], sys.argv[2], sys.argv[3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ, **ROOT_ENV)
    start = time.time()
    ref_out = os.path.join(work, "reference")
    r = subprocess.run(f"{mpirun} -np 2 {train_command(ember)} --out_dir {ref_out}", shell=True, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    duration = time.time() - start
    rng = random.Random(int(os.environ.get("EMBER_PREEMPT_SEED", "1")))
    for name in ("slurm", "lsf"):
        case(name, ember, mpirun, work, results_dir(ref_out), duration, rng)
    print("preempt_requeue: PASS")


if __name__ == "__main__":
    main()
