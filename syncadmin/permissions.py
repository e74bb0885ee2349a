"""The permission check every view that changes or shows sync data uses."""

from functools import wraps

from django.core.exceptions import PermissionDenied


def permission(*perms):
    """A view decorator: 403 unless the user has every one of `perms`."""
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
