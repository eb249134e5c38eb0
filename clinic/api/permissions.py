from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from clinic.api.language import use_patients_language


class IsPatient(BasePermission):
    """A signed-in user linked to a patient record: the patient app's endpoints serve only their own data.

    Every /me/ view passes here once the caller is known, so this is also where the
    patient's own language takes over (unless the app sent Accept-Language).
    """

    message = _("This part of the API is for patients.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and hasattr(user, "patient")):
            return False
        use_patients_language(request, user.patient)
        return True
