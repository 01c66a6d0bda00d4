# tests/http/: the HTTP layer alone, in C, against its own client, raw
# sockets and a scripted server.  The program prints TAP.

check_PROGRAMS = tests/http/http-test
tests_http_http_test_SOURCES = tests/http/http-test.c \
  $(gl_http_sources) src/core/buf.c src/core/buf.h
tests_http_http_test_CPPFLAGS = -I$(top_srcdir)/src
tests_http_http_test_CFLAGS = $(WARN_CFLAGS) $(LIBUV_CFLAGS)
tests_http_http_test_LDADD = $(LIBUV_LIBS) $(HTTP_PARSER_LIBS)

TESTS += tests/http/http-test
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
