"""What the scheduling services raise when a request cannot be carried out."""

from clinic.errors import Conflict, InvalidInput


class InvalidSchedule(InvalidInput):
    """A rule that does not parse or never occurs, a non-positive capacity or duration, bad dates."""

    code = "invalid_schedule"


class OutsideSeries(InvalidInput):
    code = "outside_series"


class OutsidePlacement(InvalidInput):
    code = "outside_placement"


class SessionNotStarted(InvalidInput):
    code = "session_not_started"


class InvalidAttendance(InvalidInput):
    code = "invalid_attendance"


class SessionFull(Conflict):
    code = "session_full"


class DoubleBooked(Conflict):
    code = "double_booked"


class SessionLocked(Conflict):
    """The session has happened or has attendance: it is history now."""

    code = "session_locked"


class SessionCancelled(Conflict):
    code = "session_cancelled"


class SiteClosed(Conflict):
    code = "site_closed"
