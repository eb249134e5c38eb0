from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


def _whole_numbers(request, name: str) -> list[int]:
    try:
        return [int(value) for value in request.query_params.getlist(name)]
    except ValueError:
        raise ValidationError({name: ["A whole number is required."]}) from None


def _check_page_size(request, name: str, maximum: int) -> None:
    values = _whole_numbers(request, name)
    if any(value < 1 for value in values):
        raise ValidationError({name: ["Ask for at least one row per page."]})
    if any(value > maximum for value in values):
        raise ValidationError({name: [f"Ask for at most {maximum} rows per page."]})


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
        _check_page_size(request, self.page_size_query_param, self.max_page_size)
        return super().get_page_size(request)

    def paginate_queryset(self, queryset, request, view=None):
        if any(value < 1 for value in _whole_numbers(request, self.page_query_param)):
            raise ValidationError({self.page_query_param: ["Pages are numbered from 1."]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise NotFound("There is no such page; the list has fewer rows.") from None

    def page_from_rows(self, request, *, fetch) -> list | None:
        """A page of rows the view reads itself, with the total in the same statement; None to take the queryset path.

        ``fetch(limit, offset)`` returns the page's rows and how many rows the list has in all. A page
        past the end (no rows) is None too: ``paginate_queryset`` answers it with its 404.
        """
        page_size = self.get_page_size(request)
        numbers = _whole_numbers(request, self.page_query_param)
        if any(value < 1 for value in numbers):
            raise ValidationError({self.page_query_param: ["Pages are numbered from 1."]})
        number = numbers[-1] if numbers else 1  # the last one, as QueryDict.get reads it
        rows, total = fetch(page_size, (number - 1) * page_size)
        if not rows and number > 1:
            return None
        paginator = self.django_paginator_class([], page_size)
        paginator.count = total  # a cached property: set, it is not counted again
        self.page = paginator._get_page(rows, number, paginator)
        self.request = request
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        return list(self.page)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size, "default": self.page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class CursorPages(CursorPagination):
    """Pages for the patient app's lists: ``next`` and ``previous`` links (an opaque ``cursor``), no ``count``.

    A page costs one SELECT of the page's rows and one more: there is no COUNT of the whole list, and
    no OFFSET that grows with the page number (the cursor holds the ordering value of the page's last
    row, so a row added before it does not shift the next page). The order is the view's queryset's,
    which may depend on its filters (upcoming sessions nearest first, past ones latest first); the
    first ordering field is what the cursor compares, the others only break ties inside a page.
    ``page_size`` is bounded as in ``Pagination``; a cursor that was not one of ours is a 400.
    """

    page_size = Pagination.page_size
    page_size_query_param = Pagination.page_size_query_param
    max_page_size = Pagination.max_page_size
    cursor_query_description = "The `next` or `previous` link of the page before gives it; do not build it."

    def get_page_size(self, request):
        _check_page_size(request, self.page_size_query_param, self.max_page_size)  # as for numbered pages
        return super().get_page_size(request)

    def get_ordering(self, request, queryset, view):
        ordering = tuple(queryset.query.order_by) or tuple(queryset.model._meta.ordering)
        if not ordering:
            raise ValueError(f"{type(view).__name__}: cursor pages need an ordered queryset.")
        return ordering

    def first_page(self, request, *, ordering: tuple[str, ...], fetch) -> list | None:
        """The first page from rows the view reads itself, or None when the request asks for a later page.

        ``fetch(n)`` returns the first ``n`` rows in ``ordering`` (one more than a page, as
        ``paginate_queryset`` reads, to know whether a next page exists). The links come out as
        ``paginate_queryset`` would make them, so the next page goes through it.
        """
        if request.query_params.get(self.cursor_query_param):
            return None
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = ordering
        self.cursor = None
        results = fetch(self.page_size + 1)
        self.page = list(results[: self.page_size])
        self.has_next = len(results) > len(self.page)
        self.next_position = self._get_position_from_instance(results[-1], ordering) if self.has_next else None
        self.has_previous = False
        self.previous_position = None
        return self.page

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {self.cursor_query_param: ["Not a page link we gave; start again from the first page."]}
            ) from None

    def get_paginated_response_schema(self, schema):
        described = super().get_paginated_response_schema(schema)
        described["properties"]["next"]["description"] = "The next page; null on the last one."
        described["properties"]["previous"]["description"] = "The page before; null on the first one."
        return described

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size, "default": self.page_size})
        return parameters
