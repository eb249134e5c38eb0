from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        # DRF falls back to the default for ?page_size=abc; the contract says integer, so it is a 400.
        raw = request.query_params.getlist(self.page_size_query_param)
        if raw:
            try:
                values = [int(value) for value in raw]
            except ValueError:
                raise ValidationError({self.page_size_query_param: ["A whole number is required."]}) from None
            if any(value < 1 for value in values):
                raise ValidationError({self.page_size_query_param: ["Ask for at least one row per page."]})
        return super().get_page_size(request)
