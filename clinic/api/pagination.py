from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination


def _whole_numbers(request, name: str) -> list[int]:
    try:
        return [int(value) for value in request.query_params.getlist(name)]
    except ValueError:
        raise ValidationError({name: ["A whole number is required."]}) from None


class Pagination(PageNumberPagination):
    """``?page=2&page_size=50``: what the schema declares (whole numbers, page ≥ 1, 1 ≤ page_size ≤ 100) and no more.

    DRF itself falls back to the default for ``?page_size=abc`` and clamps ``?page_size=1000``; a client built
    from the schema should get a 400 for input the schema calls invalid, not a silent guess. A page past the
    last one is a 404 (there is no such page).
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        values = _whole_numbers(request, self.page_size_query_param)
        if any(value < 1 for value in values):
            raise ValidationError({self.page_size_query_param: ["Ask for at least one row per page."]})
        if any(value > self.max_page_size for value in values):
            raise ValidationError(
                {self.page_size_query_param: [f"Ask for at most {self.max_page_size} rows per page."]}
            )
        return super().get_page_size(request)

    def paginate_queryset(self, queryset, request, view=None):
        if any(value < 1 for value in _whole_numbers(request, self.page_query_param)):
            raise ValidationError({self.page_query_param: ["Pages are numbered from 1."]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise NotFound("There is no such page; the list has fewer rows.") from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size, "default": self.page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
