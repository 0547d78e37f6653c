"""pytest fixtures: process groups that stop what a test started, pass or fail.

`processes` lives for one test, `module_processes` for one test file (for backends shared by many
tests). When a test fails, the log tails of its processes are added to the failure report.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402  pylint: disable=wrong-import-position


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # The call report is made before fixture teardown, so the processes and logs still exist.
    if report.failed and report.when in ("setup", "call"):
        # Shared backends are many and usually innocent: only those that died are shown.
        for fixture, only_exited in (("processes", False), ("module_processes", True)):
            group = getattr(item, "funcargs", {}).get(fixture)
            tails = group.log_tails(only_exited) if group is not None else ""
            if tails:
                report.sections.append(("%s logs" % fixture, tails))


@pytest.fixture
def processes():
    with harness.ProcessGroup() as group:
        yield group


@pytest.fixture(scope="module")
def module_processes():
    with harness.ProcessGroup() as group:
        yield group


@pytest.fixture(scope="session")
def build_dir():
    return harness.build_dir()
