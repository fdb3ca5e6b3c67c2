package io.boxlite;

/**
 * The kind of a {@link BoxliteException}, mirroring BoxLite's error kinds so that the numeric
 * codes of its C API and the HTTP statuses of its REST API carry over unchanged.
 */
public enum ErrorCode {
    INTERNAL(1, 500, "internal"),
    NOT_FOUND(2, 404, "not_found"),
    ALREADY_EXISTS(3, 409, "already_exists"),
    INVALID_STATE(4, 409, "invalid_state"),
    INVALID_ARGUMENT(5, 400, "invalid_argument"),
    CONFIG(6, 500, "config_error"),
    STORAGE(7, 500, "storage_error"),
    IMAGE(8, 422, "image_pull_failed"),
    NETWORK(9, 503, "network_unavailable"),
    EXECUTION(10, 422, "execution_failed"),
    STOPPED(11, 409, "stopped"),
    ENGINE(12, 503, "engine_unavailable"),
    UNSUPPORTED(13, 400, "unsupported"),
    DATABASE(14, 500, "database_error"),
    PORTAL(15, 503, "upstream_unavailable"),
    RPC(16, 503, "upstream_unavailable"),
    RPC_TRANSPORT(17, 503, "upstream_unavailable"),
    METADATA(18, 500, "metadata_error"),
    UNSUPPORTED_ENGINE(19, 400, "unsupported"),
    RESOURCE_EXHAUSTED(20, 429, "resource_exhausted"),
    SESSION_REAPED(21, 410, "session_reaped");

    private final int code;
    private final int httpStatus;
    private final String slug;

    ErrorCode(int code, int httpStatus, String slug) {
        this.code = code;
        this.httpStatus = httpStatus;
        this.slug = slug;
    }

    /** BoxLite's numeric code (its C API's {@code BoxliteErrorCode}); 0 is success and never used. */
    public int code() {
        return code;
    }

    /** The HTTP status BoxLite's REST server answers with for this kind. */
    public int httpStatus() {
        return httpStatus;
    }

    /** The machine-readable code of BoxLite's REST error body, e.g. {@code "not_found"}. */
    public String slug() {
        return slug;
    }
}
