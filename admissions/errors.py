"""What the admissions services raise when a request cannot be carried out."""

from clinic.errors import Conflict, InvalidInput


class InvalidReferralTransition(Conflict):
    code = "invalid_referral_transition"


class PossibleDuplicate(Conflict):
    code = "possible_duplicate"


class ReferralNotWaiting(Conflict):
    code = "referral_not_waiting"


class ReservationNotHeld(Conflict):
    code = "reservation_not_held"


class ReservationLapsed(Conflict):
    code = "reservation_lapsed"


class ProgramFull(Conflict):
    code = "program_full"


class InvalidRange(InvalidInput):
    code = "invalid_range"
