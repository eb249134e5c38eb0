"""What the utilization-review services raise when a request cannot be carried out."""

from clinic.errors import Conflict, InvalidInput


class InvalidCoverage(InvalidInput):
    code = "invalid_coverage"


class CoverageOverlap(Conflict):
    code = "coverage_overlap"


class InvalidAuthorization(InvalidInput):
    code = "invalid_authorization"


class AuthorizationOverlap(Conflict):
    code = "authorization_overlap"


class AlreadyDecided(Conflict):
    code = "authorization_already_decided"


class InvalidReview(InvalidInput):
    code = "invalid_review"


class ExportRangeTooLong(InvalidInput):
    code = "export_range_too_long"
