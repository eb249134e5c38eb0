"""Who may do what with coverage and authorizations; applied to the roles of ``clinic.access`` at start-up.

- Front desk enters coverage at registration and sees whether care is authorized,
  but not the authorization notes (the payer's clinical reasoning).
- The UR coordinator sees coverage, authorizations and the clinical summary a review
  needs (levels of care, extensions, transitions, attendance), and records requests,
  decisions and reviews; they do not take attendance or change the care journey.
- Clinicians and program admins may do the UR work too (small programs have no UR desk).
"""

from clinic.access import Role

_SEE_COVERAGE = {
    "utilization.view_payer",
    "utilization.view_coverage",
    "utilization.add_coverage",
    "utilization.change_coverage",
    "utilization.view_authorization",
}
_UR_WORK = _SEE_COVERAGE | {
    "utilization.add_authorization",
    "utilization.change_authorization",
    "utilization.view_concurrentreview",
    "utilization.add_concurrentreview",
    "utilization.view_placementunderreview",
    "utilization.view_programbilling",
    "utilization.export_billable_units",
}
# The clinical summary for a review: where the patient is, since when, why they moved, what they attended.
_CLINICAL_SUMMARY = {
    "patients.view_patient",
    "programs.view_site",
    "programs.view_program",
    "programs.view_bed",
    "programs.view_treatmentepisode",
    "programs.view_placement",
    "programs.view_residentialstay",
    "programs.view_iopenrollment",
    "programs.view_stayextension",
    "programs.view_transition",
    "programs.view_discharge",
    "programs.view_reversal",
    "scheduling.view_sessionseries",
    "scheduling.view_session",
    "scheduling.view_booking",
    "scheduling.view_attendancerecord",
}

PERMISSIONS: dict[Role, set[str]] = {
    Role.FRONT_DESK: _SEE_COVERAGE,
    Role.CLINICIAN: _UR_WORK,
    Role.UR_COORDINATOR: _UR_WORK | _CLINICAL_SUMMARY,
    Role.PROGRAM_ADMIN: _UR_WORK
    | {
        "utilization.add_payer",
        "utilization.change_payer",
        "utilization.add_programbilling",
        "utilization.change_programbilling",
    },
}

SCOPES: dict[str, dict] = {
    "utilization.coverage": {"patient": ["patient"]},
    "utilization.authorization": {"patient": ["patient"]},
    "utilization.concurrentreview": {"patient": ["authorization__patient"]},
    "utilization.programbilling": {"site": "program__site"},
}


def can_see_authorization_notes(user) -> bool:
    """Authorization and review notes carry the payer's clinical reasoning: not for front desk."""
    return user.has_perm("utilization.add_authorization") or getattr(user, "is_superuser", False)
