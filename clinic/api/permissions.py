from rest_framework.permissions import BasePermission


class IsPatient(BasePermission):
    """A signed-in user linked to a patient record: the patient app's endpoints serve only their own data."""

    message = "This part of the API is for patients."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "patient"))
