"""What the care-journey services raise when a request cannot be carried out."""

from clinic.errors import Conflict, InvalidInput


class BedUnavailable(Conflict):
    code = "bed_unavailable"


class PlacementOverlap(Conflict):
    code = "placement_overlap"


class EpisodeAlreadyOpen(Conflict):
    code = "episode_already_open"


class AlreadyDischarged(Conflict):
    code = "already_discharged"


class NotReversible(Conflict):
    code = "not_reversible"


class StayLengthOutOfRange(InvalidInput):
    code = "stay_length_out_of_range"


class InvalidTransition(InvalidInput):
    code = "invalid_transition"


class InvalidDate(InvalidInput):
    code = "invalid_date"


class WrongProgram(InvalidInput):
    code = "wrong_program"


class CheckInClosed(Conflict):
    code = "checkin_closed"


class CheckInNotOpenYet(Conflict):
    code = "checkin_not_open_yet"
