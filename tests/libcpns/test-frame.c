/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CPNS-1 framing (PROTOCOL.md §4.1): incremental reader and writer. */
#include "config.h"

#include <string.h>

#include "cpns.h"

static GBytes *
frame_bytes (const char *body)
{
  g_autoptr(GBytes) b = g_bytes_new (body, strlen (body));

  return cpns_frame_encode (b);
}

static void
assert_body (GBytes     *body,
             const char *expected)
{
  g_assert_nonnull (body);
  g_assert_cmpmem (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                   expected, strlen (expected));
}

static void
test_vector_example (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *path = g_build_filename (g_getenv ("CPNS_TEST_DATA"), "vectors.json", NULL);
  g_autoptr(GError) error = NULL;
  JsonObject *example;
  g_autoptr(CpnsMessage) msg = NULL;
  g_autoptr(CpnsMessage) back = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GBytes) popped = NULL;
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (CPNS_MAX_MESSAGE_SIZE);
  g_autofree char *hex = NULL;
  JsonObject *message;
  gsize consumed;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  example = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
                                           "frame_example");
  message = json_object_get_object_member (example, "message");

  msg = cpns_message_new (json_object_get_string_member (message, "type"));
  body = cpns_message_encode (msg, &error);
  g_assert_no_error (error);
  frame = cpns_frame_encode (body);
  hex = cpns_hex_encode (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
  g_assert_cmpstr (hex, ==, json_object_get_string_member (example, "hex"));

  /* And back through the reader. */
  g_assert_true (cpns_frame_reader_feed (reader, g_bytes_get_data (frame, NULL),
                                         g_bytes_get_size (frame), &consumed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, g_bytes_get_size (frame));
  popped = cpns_frame_reader_pop (reader);
  back = cpns_message_decode_frame (g_bytes_get_data (popped, NULL), g_bytes_get_size (popped),
                                    CPNS_MAX_PREAUTH_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (cpns_message_get_kind (back), ==, "pne_id_request");
  g_assert_cmpint (cpns_message_get_int (back, "v"), ==,
                   json_object_get_int_member (message, "v"));
}

static void
test_several_in_one_feed (void)
{
  const char *bodies[] = { "{\"v\":1,\"type\":\"ping\"}", "{\"a\":1}", "x" };
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (CPNS_MAX_MESSAGE_SIZE);
  g_autoptr(GError) error = NULL;
  gsize offset = 0;
  guint n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(GBytes) f = frame_bytes (bodies[i]);

      g_byte_array_append (stream, g_bytes_get_data (f, NULL), g_bytes_get_size (f));
    }
  /* Half of a fourth frame's header at the end. */
  g_byte_array_append (stream, (const guint8 *) "\0\0", 2);

  while (offset < stream->len)
    {
      gsize consumed;
      g_autoptr(GBytes) body = NULL;

      g_assert_true (cpns_frame_reader_feed (reader, stream->data + offset, stream->len - offset,
                                             &consumed, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (consumed, >, 0);
      offset += consumed;
      body = cpns_frame_reader_pop (reader);
      if (body != NULL)
        assert_body (body, bodies[n++]);
    }
  g_assert_cmpuint (n, ==, 3);
  g_assert_true (cpns_frame_reader_is_partial (reader));
  g_assert_null (cpns_frame_reader_pop (reader));
}

static void
test_one_byte_feeds (void)
{
  g_autoptr(CpnsMessage) msg = cpns_message_new ("bye");
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (CPNS_MAX_MESSAGE_SIZE);
  g_autoptr(GError) error = NULL;
  const guint8 *data;
  gsize len;
  guint frames = 0;

  cpns_message_set_string (msg, "reason", "done for today");
  body = cpns_message_encode (msg, &error);
  g_assert_no_error (error);
  frame = cpns_frame_encode (body);
  data = g_bytes_get_data (frame, &len);

  for (guint round = 0; round < 2; round++)
    for (gsize i = 0; i < len; i++)
      {
        gsize consumed;
        g_autoptr(GBytes) popped = NULL;

        g_assert_false (cpns_frame_reader_is_partial (reader) && i == 0);
        g_assert_true (cpns_frame_reader_feed (reader, data + i, 1, &consumed, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (consumed, ==, 1);
        popped = cpns_frame_reader_pop (reader);
        if (i + 1 < len)
          {
            g_assert_null (popped);
            g_assert_true (cpns_frame_reader_is_partial (reader));
          }
        else
          {
            g_autoptr(CpnsMessage) back = NULL;

            g_assert_true (g_bytes_equal (popped, body));
            g_assert_false (cpns_frame_reader_is_partial (reader));
            back = cpns_message_decode_frame (g_bytes_get_data (popped, NULL),
                                              g_bytes_get_size (popped),
                                              CPNS_MAX_MESSAGE_SIZE, &error);
            g_assert_no_error (error);
            g_assert_cmpstr (cpns_message_get_string (back, "reason"), ==, "done for today");
            frames++;
          }
      }
  g_assert_cmpuint (frames, ==, 2);
}

static void
test_complete_frame_waits_for_pop (void)
{
  g_autoptr(GBytes) a = frame_bytes ("{}");
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (16);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  gsize consumed;

  g_assert_true (cpns_frame_reader_feed (reader, g_bytes_get_data (a, NULL), g_bytes_get_size (a),
                                         &consumed, &error));
  g_assert_cmpuint (consumed, ==, 6);
  /* Until pop(), nothing more is taken. */
  g_assert_true (cpns_frame_reader_feed (reader, g_bytes_get_data (a, NULL), g_bytes_get_size (a),
                                         &consumed, &error));
  g_assert_cmpuint (consumed, ==, 0);
  body = cpns_frame_reader_pop (reader);
  assert_body (body, "{}");
  g_assert_null (cpns_frame_reader_pop (reader));
}

static void
assert_bad_length (const guint8 header[4],
                   gsize        max,
                   const char  *message)
{
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (max);
  g_autoptr(GError) error = NULL;
  guint8 data[64];
  gsize consumed = 99;

  /* A header followed by some body bytes: the error comes at the header,
   * nothing of the body is consumed or buffered. */
  memcpy (data, header, 4);
  memset (data + 4, '{', sizeof data - 4);
  g_assert_false (cpns_frame_reader_feed (reader, data, sizeof data, &consumed, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_cmpuint (consumed, ==, 4);
  g_assert_null (cpns_frame_reader_pop (reader));
  g_clear_error (&error);

  /* The reader stays failed. */
  g_assert_false (cpns_frame_reader_feed (reader, data + 4, 10, &consumed, &error));
  g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  g_assert_cmpuint (consumed, ==, 0);
}

static void
test_bad_lengths (void)
{
  const guint8 zero[4] = { 0, 0, 0, 0 };
  const guint8 over[4] = { 0, 1, 0, 1 };            /* 65,537 */
  const guint8 huge[4] = { 0xff, 0xff, 0xff, 0xff };
  const guint8 preauth_over[4] = { 0, 0, 0x20, 0x01 }; /* 8,193 */

  assert_bad_length (zero, CPNS_MAX_MESSAGE_SIZE,
                     "too_large: frame length 0 (a frame is 1 to 65536 bytes)");
  assert_bad_length (over, CPNS_MAX_MESSAGE_SIZE,
                     "too_large: frame length 65537 is over the limit of 65536 bytes");
  assert_bad_length (huge, CPNS_MAX_MESSAGE_SIZE,
                     "too_large: frame length 4294967295 is over the limit of 65536 bytes");
  assert_bad_length (preauth_over, CPNS_MAX_PREAUTH_SIZE,
                     "too_large: frame length 8193 is over the limit of 8192 bytes");

  /* The bad header arriving one byte at a time fails on its last byte. */
  {
    g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (CPNS_MAX_MESSAGE_SIZE);
    g_autoptr(GError) error = NULL;
    gsize consumed;

    for (guint i = 0; i < 3; i++)
      {
        g_assert_true (cpns_frame_reader_feed (reader, over + i, 1, &consumed, &error));
        g_assert_no_error (error);
      }
    g_assert_false (cpns_frame_reader_feed (reader, over + 3, 1, &consumed, &error));
    g_assert_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE);
  }
}

static void
test_exact_max_and_set_max (void)
{
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (CPNS_MAX_PREAUTH_SIZE);
  g_autofree guint8 *data = g_malloc (4 + CPNS_MAX_MESSAGE_SIZE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  gsize consumed;

  memset (data + 4, 'x', CPNS_MAX_MESSAGE_SIZE);
  data[0] = 0; data[1] = 0; data[2] = 0x20; data[3] = 0;   /* 8,192 */
  g_assert_true (cpns_frame_reader_feed (reader, data, 4 + CPNS_MAX_PREAUTH_SIZE, &consumed, &error));
  g_assert_no_error (error);
  body = cpns_frame_reader_pop (reader);
  g_assert_cmpuint (g_bytes_get_size (body), ==, CPNS_MAX_PREAUTH_SIZE);
  g_clear_pointer (&body, g_bytes_unref);

  /* After authentication the limit is raised. */
  cpns_frame_reader_set_max (reader, CPNS_MAX_MESSAGE_SIZE);
  data[0] = 0; data[1] = 1; data[2] = 0; data[3] = 0;       /* 65,536 */
  g_assert_true (cpns_frame_reader_feed (reader, data, 4 + CPNS_MAX_MESSAGE_SIZE, &consumed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, 4 + CPNS_MAX_MESSAGE_SIZE);
  body = cpns_frame_reader_pop (reader);
  g_assert_cmpuint (g_bytes_get_size (body), ==, CPNS_MAX_MESSAGE_SIZE);
}

static void
test_bounded_memory (void)
{
  /* A peer sends the header of a maximal frame, then trickles garbage for
   * ever: the reader never holds more than the one body. Feed 16 maximal
   * frames in 4 KiB pieces; exactly 16 come out, each of the announced
   * size, and nothing stays buffered. */
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (CPNS_MAX_MESSAGE_SIZE);
  g_autoptr(GError) error = NULL;
  guint8 chunk[4096];
  guint frames = 0;
  gsize total = 0;
  gsize body_left = 0;

  while (total < 16 * (CPNS_MAX_MESSAGE_SIZE + 4))
    {
      gsize offset = 0;
      gsize len = sizeof chunk;

      memset (chunk, 'g', sizeof chunk);
      if (body_left == 0)
        {
          chunk[0] = 0; chunk[1] = 1; chunk[2] = 0; chunk[3] = 0;
          body_left = CPNS_MAX_MESSAGE_SIZE + 4;
        }
      len = MIN (len, body_left);
      while (offset < len)
        {
          gsize consumed;
          g_autoptr(GBytes) body = NULL;

          g_assert_true (cpns_frame_reader_feed (reader, chunk + offset, len - offset,
                                                 &consumed, &error));
          offset += consumed;
          body = cpns_frame_reader_pop (reader);
          if (body != NULL)
            {
              g_assert_cmpuint (g_bytes_get_size (body), ==, CPNS_MAX_MESSAGE_SIZE);
              frames++;
            }
        }
      body_left -= len;
      total += len;
    }
  g_assert_cmpuint (frames, ==, 16);
  g_assert_false (cpns_frame_reader_is_partial (reader));
}

static void
test_writer (void)
{
  g_autoptr(CpnsFrameWriter) writer = cpns_frame_writer_new ();
  g_autoptr(GBytes) a = g_bytes_new_static ("{\"v\":1,\"type\":\"ping\"}", 22);
  g_autoptr(GBytes) b = g_bytes_new_static ("{\"v\":1,\"type\":\"pong\"}", 22);
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  g_autoptr(CpnsFrameReader) reader = cpns_frame_reader_new (CPNS_MAX_MESSAGE_SIZE);
  g_autoptr(GError) error = NULL;
  const guint8 *data;
  gsize len;
  gsize offset = 0;
  guint step = 1;
  guint n = 0;

  g_assert_true (cpns_frame_writer_is_empty (writer));
  g_assert_null (cpns_frame_writer_peek (writer, &len));
  g_assert_cmpuint (len, ==, 0);

  cpns_frame_writer_push (writer, a);
  cpns_frame_writer_push (writer, b);
  g_assert_false (cpns_frame_writer_is_empty (writer));
  g_assert_cmpuint (cpns_frame_writer_get_queued_bytes (writer), ==, 2 * (4 + 22));

  /* A transport that takes 1, 2, 3, … bytes per write. */
  while ((data = cpns_frame_writer_peek (writer, &len)) != NULL)
    {
      gsize queued = cpns_frame_writer_get_queued_bytes (writer);
      gsize written = MIN (len, step++);

      g_assert_cmpuint (len, >, 0);
      g_byte_array_append (wire, data, written);
      cpns_frame_writer_advance (writer, written);
      g_assert_cmpuint (cpns_frame_writer_get_queued_bytes (writer), ==, queued - written);
    }
  g_assert_true (cpns_frame_writer_is_empty (writer));
  g_assert_cmpuint (cpns_frame_writer_get_queued_bytes (writer), ==, 0);
  g_assert_cmpuint (wire->len, ==, 2 * (4 + 22));

  while (offset < wire->len)
    {
      gsize consumed;
      g_autoptr(GBytes) body = NULL;

      g_assert_true (cpns_frame_reader_feed (reader, wire->data + offset, wire->len - offset,
                                             &consumed, &error));
      offset += consumed;
      body = cpns_frame_reader_pop (reader);
      if (body != NULL)
        g_assert_true (g_bytes_equal (body, n++ == 0 ? a : b));
    }
  g_assert_cmpuint (n, ==, 2);

  /* Advancing over a frame boundary at once. */
  cpns_frame_writer_push (writer, a);
  cpns_frame_writer_push (writer, b);
  cpns_frame_writer_advance (writer, 30);
  data = cpns_frame_writer_peek (writer, &len);
  g_assert_cmpuint (len, ==, 22);
  g_assert_cmpmem (data, len, g_bytes_get_data (b, NULL), 22);
  cpns_frame_writer_advance (writer, 22);
  g_assert_true (cpns_frame_writer_is_empty (writer));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/frame/vector-example", test_vector_example);
  g_test_add_func ("/frame/several-in-one-feed", test_several_in_one_feed);
  g_test_add_func ("/frame/one-byte-feeds", test_one_byte_feeds);
  g_test_add_func ("/frame/complete-frame-waits-for-pop", test_complete_frame_waits_for_pop);
  g_test_add_func ("/frame/bad-lengths", test_bad_lengths);
  g_test_add_func ("/frame/exact-max-and-set-max", test_exact_max_and_set_max);
  g_test_add_func ("/frame/bounded-memory", test_bounded_memory);
  g_test_add_func ("/frame/writer", test_writer);

  return g_test_run ();
}
