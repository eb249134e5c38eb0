from django.urls import path

from exchange import views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="metadata"),
    path("auth/token", views.TokenView.as_view(), name="token"),
    path("Patient/$export", views.ExportView.as_view(), name="patient-export"),
    path("Group/<str:group_id>/$export", views.ExportView.as_view(), name="group-export"),
    path("$export-status/<uuid:export_id>", views.ExportStatusView.as_view(), name="export-status"),
    path("$export-file/<uuid:export_id>/<str:type_name>.ndjson", views.ExportFileView.as_view(), name="export-file"),
    path("<str:type_name>", views.SearchView.as_view(), name="search"),
    path("<str:type_name>/<str:resource_id>", views.ReadView.as_view(), name="read"),
]
