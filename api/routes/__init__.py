"""One router per resource. Each router carries its full path prefix itself (rather than
getting /api/v1 at include time) so the matched route's template is the whole path, which
is what the request metrics label by."""

API_PREFIX = "/api/v1"
