"""Request checks that apply to every view."""

from django.http import JsonResponse


class RejectNulMiddleware:
    """Reject a request whose path or query string contains a NUL character.

    PostgreSQL text cannot hold NUL, so such a value would fail in the first
    query that used it, as a server error instead of a clear 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return _rejected("path", request.path)
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return _rejected(name.replace("\x00", "\\x00"), values)
        return self.get_response(request)


def _rejected(field: str, value) -> JsonResponse:
    return JsonResponse(
        {
            "errors": [
                {
                    "field": field,
                    "value": str(value).replace("\x00", "\\x00"),
                    "message": f"invalid {field}: NUL characters are not allowed",
                }
            ]
        },
        status=400,
    )
