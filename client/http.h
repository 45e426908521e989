/* http.h: the blocking HTTPS client behind cdrp -- one request per
 * connection over mutual TLS, with the response read whole into memory. */
#ifndef CDRP_HTTP_H
#define CDRP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_WUR __attribute__((warn_unused_result))

/* Largest response body the client accepts; anything bigger is refused
 * rather than buffered, since no answer of the API comes near it. */
#define HTTP_MAX_BODY (16u * 1024u * 1024u)
/* Largest response header block (status line and headers). */
#define HTTP_MAX_HEADERS (64u * 1024u)

/* What went wrong, coarse enough for the caller to pick an exit code. */
enum http_err {
	HTTP_OK = 0,
	HTTP_ERR_CONFIG,    /* bad URL, unreadable CA, certificate or key */
	HTTP_ERR_CONNECT,   /* name lookup failed, refused, unreachable */
	HTTP_ERR_TLS,       /* handshake failed or the peer refused us */
	HTTP_ERR_TIMEOUT,   /* the deadline passed */
	HTTP_ERR_IO,        /* the connection broke before any answer */
	HTTP_ERR_PROTOCOL,  /* the answer is not HTTP we understand */
	HTTP_ERR_TOO_LARGE, /* the answer is over HTTP_MAX_BODY */
	HTTP_ERR_INTERNAL,  /* out of memory and the like */
	/* the key's passphrase file cannot be read, or the passphrase given
	 * does not decrypt the key */
	HTTP_ERR_PASSPHRASE
};

struct http_config {
	const char *url; /* https://host[:port][/prefix] */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	int timeout_sec; /* for one whole request, connect to last byte */
	/* An encrypted key's passphrase: the first line of this file, else
	 * (when key_prompt) asked for on /dev/tty with echo off, else the key
	 * is refused as unusable (HTTP_ERR_CONFIG). Unused for a plain key. */
	const char *key_passphrase_file;
	bool key_prompt;
};

struct http_response {
	int status;
	char *content_type; /* NULL when absent; so are the others */
	char *retry_after;
	char *location;
	char *request_id;
	char *etag; /* as sent, quotes included: "7" */
	bool idempotent_replay;
	char *body; /* always NUL-terminated (body_len excludes it) */
	size_t body_len;
};

/* Error text for the user; never holds request bodies or key material. */
struct http_error {
	enum http_err code;
	char msg[512];
	/* True once any byte of the request may have reached the server, so
	 * a caller can warn that a write may or may not have happened. */
	bool request_sent;
};

struct http_client;

/* Parse the URL and load the CA, certificate and key. */
struct http_client *http_client_new(const struct http_config *cfg, struct http_error *err) HTTP_WUR;
void http_client_free(struct http_client *c);

/* One request. `path` starts with '/' and is appended to the URL's prefix;
 * `headers` is NULL or a NULL-terminated list of "Name: value" lines;
 * `body` may be NULL. On HTTP_OK, *resp holds any status the server sent
 * (4xx and 5xx included); free it with http_response_free. */
enum http_err http_request(struct http_client *c, const char *method, const char *path,
                           const char *const *headers, const char *body, size_t body_len,
                           struct http_response *resp, struct http_error *err) HTTP_WUR;
void http_response_free(struct http_response *resp);

/* Percent-encode a query value (RFC 3986 unreserved kept); caller frees. */
char *http_query_escape(const char *s) HTTP_WUR;

#endif
