"""What `make mutation` mutates, and the tests each module is run against.

A target is one module that holds rules protecting patients, the tests that cover it (only
these run for its mutants: the whole suite would take hours), and optionally the functions to
mutate when the module holds more than the rules (mutmut's name patterns).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    module: str  # path of the source file
    tests: list[str]
    functions: list[str] = field(default_factory=list)  # empty: every function in the module
    # In CI's sample: the modules whose survivors are all killed or explained, with tests quick enough
    # for a sample of a few minutes. A module joins once `make mutation` reports it clean.
    in_sample: bool = False

    @property
    def key(self) -> str:
        return self.module.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        """mutmut's mutant-name patterns for this target."""
        if not self.functions:
            return [f"{self.key}.*"]
        return [f"{self.key}.x_{name}__mutmut_*" for name in self.functions]


# Quick, rule-dense modules first: a run stopped early has measured the most rules.
TARGETS: list[Target] = [
    Target(
        "reminders/rules.py",
        ["tests/reminders/test_send_rules.py", "tests/reminders/test_rules_mutants.py"],
        in_sample=True,
    ),
    Target(
        "clinic/access.py",
        ["tests/clinic/test_access.py", "tests/clinic/test_admin_access.py", "tests/clinic/test_access_mutants.py"],
        in_sample=True,
    ),
    # The census: the figures per program and the dashboard's daily series.
    Target(
        "programs/selectors.py",
        [
            "tests/admissions/test_census.py",
            "tests/programs/test_step_down.py",
            "tests/clinic/test_dashboard.py",
            "tests/programs/test_census_mutants.py",
        ],
        functions=["census", "_count", "daily_census", "active_stays", "_sites_filter"],
    ),
    # Compliance: weekly hours against the program's minimum and maximum, absence runs.
    Target(
        "scheduling/selectors.py",
        ["tests/scheduling/test_compliance.py", "tests/scheduling/test_compliance_mutants.py"],
        functions=[
            "week_start",
            "weekly_hours",
            "below_minimum",
            "above_maximum",
            "consecutive_absences",
            "iop_below_minimum",
            "iop_consecutive_absences",
        ],
        in_sample=True,
    ),
    Target("clinic/audit.py", ["tests/clinic/test_audit.py", "tests/clinic/test_audit_mutants.py"], in_sample=True),
    # The transitions: admit, step down, discharge (and the checks they share).
    Target(
        "programs/services.py",
        [
            "tests/programs/test_admission.py",
            "tests/programs/test_step_down.py",
            "tests/programs/test_discharge.py",
            "tests/programs/test_database_invariants.py",
            "tests/programs/test_transitions_mutants.py",
            "tests/programs/test_transition_races.py",
        ],
        functions=[
            "_check_not_far_future",
            "_check_stay_length",
            "_lock_bed_for",
            "_check_no_overlap",
            "_open_episode_for",
            "_lock_open_placement",
            "_check_transition_date",
            "admit_to_residential",
            "enroll_in_iop",
            "_check_outpatient",
            "_create_enrollment",
            "step_down",
            "step_up",
            "_end_placement",
            "discharge",
            "_start_aftercare",
        ],
    ),
    Target(
        "reminders/content.py",
        [
            "tests/reminders/test_content.py",
            "tests/reminders/test_merged_texts.py",
            "tests/reminders/test_discreet_sender.py",
            "tests/reminders/test_content_mutants.py",
        ],
        in_sample=True,
    ),
    Target(
        "reminders/dispatch.py",
        [
            "tests/reminders/test_send_rules.py",
            "tests/reminders/test_merged_texts.py",
            "tests/reminders/test_discreet_sender.py",
            "tests/reminders/test_dispatch_queries.py",
            "tests/reminders/test_booking_reminders.py",
            # The claim and the fence across two connections, and the caps by the patient's local day.
            "tests/reminders/test_claims.py",
            "tests/reminders/test_sms_caps.py",
            "tests/reminders/test_dispatch_mutants.py",
        ],
    ),
]
