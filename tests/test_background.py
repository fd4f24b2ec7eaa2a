"""background.py: a job of the build run in a forked copy of the process, its answer sent back."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from commkg import background

needs_fork = pytest.mark.skipif(not background.can_fork(), reason="fork is used on Linux only")


@needs_fork
def test_a_forked_job_runs_in_another_process_and_its_result_comes_back():
    job = background.start(lambda: (os.getpid(), "done"), fork=True)
    assert job.forked
    pid, value = job.result()
    assert value == "done" and pid != os.getpid()
    assert job.result() == (pid, "done")  # asked again: the same answer, no second wait


@needs_fork
def test_a_forked_jobs_exception_is_raised_by_result():
    def fail():
        raise OSError(28, "No space left on device", "/out/graph.html")

    job = background.start(fail, fork=True)
    with pytest.raises(OSError) as raised:
        job.result()
    assert (raised.value.errno, raised.value.strerror, raised.value.filename) == (
        28, "No space left on device", "/out/graph.html")


@needs_fork
def test_a_forked_job_that_dies_is_a_job_died_error():
    job = background.start(lambda: os.kill(os.getpid(), signal.SIGKILL), fork=True)
    with pytest.raises(background.JobDied) as raised:
        job.result()
    assert str(raised.value) == ("a build process ended without finishing its work (exit code -9; out of "
                                 "memory?); try again with --workers 1")


@needs_fork
def test_a_result_that_cannot_be_sent_back_is_an_error_not_a_hang():
    job = background.start(lambda: threading.Lock(), fork=True)  # a lock cannot be pickled
    with pytest.raises(RuntimeError, match="could not be sent back"):
        job.result()


def test_without_fork_the_job_runs_here_when_its_result_is_asked_for():
    ran = []
    job = background.start(lambda: ran.append(os.getpid()) or "done", fork=False)
    assert not job.forked and ran == []
    assert job.result() == "done" and ran == [os.getpid()]


def test_no_fork_while_other_threads_run():
    # A lock another thread holds at the fork would stay held for ever in the child.
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not background.can_fork()
        assert not background.start(lambda: None, fork=True).forked
    finally:
        stop.set()
        thread.join()


# ------------------------------------------------------------------ a job that receives a value

def _indexes_then_receives(receive):
    """What the build's page job does: work first, then ask for the value sent meanwhile."""
    before = sum(range(1000))
    return os.getpid(), before, receive()


@pytest.mark.parametrize("fork", [pytest.param(True, marks=needs_fork), False], ids=["forked", "here"])
def test_a_receiving_job_gets_what_is_sent_to_it(fork):
    job = background.start_receiving(_indexes_then_receives, fork=fork)
    assert job.forked == fork
    job.send(["inferred", 1])
    pid, before, received = job.result()
    assert (before, received) == (499500, ["inferred", 1])
    assert (pid != os.getpid()) == fork


@pytest.mark.parametrize("fork", [pytest.param(True, marks=needs_fork), False], ids=["forked", "here"])
def test_a_receiving_job_asked_for_its_result_before_a_send_fails_and_does_not_hang(fork):
    # The build asks for a job's result when it gives up (to remove the job's temporary files),
    # maybe before it sent anything: the job must end, not wait for ever.
    job = background.start_receiving(_indexes_then_receives, fork=fork)
    with pytest.raises(background.NothingSent) as raised:
        job.result()
    assert str(raised.value) == "a build job waited for a value that was never sent"


@needs_fork
def test_a_send_to_a_job_that_died_is_not_an_error_but_its_result_is():
    job = background.start_receiving(lambda receive: os.kill(os.getpid(), signal.SIGKILL), fork=True)
    job._process.join()
    job.send("too late")  # the child has gone: nothing to report here
    with pytest.raises(background.JobDied):
        job.result()


@needs_fork
def test_a_forked_job_can_run_at_a_lower_priority_and_this_process_keeps_its_own():
    mine = os.nice(0)
    job = background.start(lambda: os.nice(0), fork=True, nice=5)
    assert job.result() == min(mine + 5, 19)
    assert os.nice(0) == mine


@needs_fork
def test_a_forked_job_runs_blas_on_one_thread_and_this_process_keeps_its_own():
    """The job shares the cores with the build: the BLAS that numpy loaded runs one thread there
    (threadpoolctl), and as many as before here."""
    import numpy  # noqa: F401 - loads the BLAS library whose threads are counted
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    mine = blas_threads()
    if not mine:
        pytest.skip("numpy was built without a BLAS library that threadpoolctl knows")
    assert background.start(blas_threads, fork=True).result() == [1] * len(mine)
    assert blas_threads() == mine
