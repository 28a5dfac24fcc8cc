/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Length-prefixed frames of CPNS-1 (PROTOCOL.md §4.1). */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include "cpns-crypto.h"
#include "cpns-error.h"
#include "cpns-frame.h"

struct _CpnsFrameReader
{
  gsize max_body;
  guint8 header[CPNS_FRAME_HEADER_LEN];
  gsize header_have;
  guint8 *body;          /* allocated once the header is complete */
  gsize body_len;
  gsize body_have;
  GBytes *complete;      /* a frame waiting for pop() */
  gboolean failed;
  gsize bad_length;
};

CpnsFrameReader *
cpns_frame_reader_new (gsize max_body)
{
  CpnsFrameReader *reader;

  g_return_val_if_fail (max_body > 0, NULL);

  reader = g_new0 (CpnsFrameReader, 1);
  reader->max_body = max_body;
  return reader;
}

static void
wipe_and_free (gpointer data,
               gsize    len)
{
  if (data != NULL)
    {
      cpns_wipe (data, len);
      g_free (data);
    }
}

/* Frame bodies can hold secrets (EUKs): wipe them when the last reference
 * goes. */
typedef struct
{
  guint8 *data;
  gsize len;
} SecretBuffer;

static void
secret_buffer_free (gpointer user_data)
{
  SecretBuffer *buffer = user_data;

  wipe_and_free (buffer->data, buffer->len);
  g_free (buffer);
}

static GBytes *
bytes_new_secret (guint8 *data,
                  gsize   len)
{
  SecretBuffer *buffer = g_new (SecretBuffer, 1);

  buffer->data = data;
  buffer->len = len;
  return g_bytes_new_with_free_func (data, len, secret_buffer_free, buffer);
}

void
cpns_frame_reader_free (CpnsFrameReader *reader)
{
  if (reader == NULL)
    return;
  wipe_and_free (reader->body, reader->body_len);
  g_clear_pointer (&reader->complete, g_bytes_unref);
  cpns_wipe (reader, sizeof *reader);
  g_free (reader);
}

void
cpns_frame_reader_set_max (CpnsFrameReader *reader,
                           gsize            max_body)
{
  g_return_if_fail (reader != NULL);
  g_return_if_fail (max_body > 0);

  reader->max_body = max_body;
}

static void
set_bad_length (CpnsFrameReader  *reader,
                GError          **error)
{
  if (reader->bad_length == 0)
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE,
                 "too_large: frame length 0 (a frame is 1 to %" G_GSIZE_FORMAT " bytes)",
                 reader->max_body);
  else
    g_set_error (error, CPNS_ERROR, CPNS_ERROR_TOO_LARGE,
                 "too_large: frame length %" G_GSIZE_FORMAT " is over the limit of %"
                 G_GSIZE_FORMAT " bytes", reader->bad_length, reader->max_body);
}

gboolean
cpns_frame_reader_feed (CpnsFrameReader  *reader,
                        const guint8     *data,
                        gsize             len,
                        gsize            *consumed,
                        GError          **error)
{
  gsize used = 0;

  g_return_val_if_fail (reader != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (consumed != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *consumed = 0;
  if (reader->failed)
    {
      set_bad_length (reader, error);
      return FALSE;
    }
  if (reader->complete != NULL)
    return TRUE;

  while (used < len && reader->complete == NULL)
    {
      if (reader->header_have < CPNS_FRAME_HEADER_LEN)
        {
          gsize n = MIN (CPNS_FRAME_HEADER_LEN - reader->header_have, len - used);

          memcpy (reader->header + reader->header_have, data + used, n);
          reader->header_have += n;
          used += n;
          if (reader->header_have == CPNS_FRAME_HEADER_LEN)
            {
              gsize body_len = ((gsize) reader->header[0] << 24) |
                               ((gsize) reader->header[1] << 16) |
                               ((gsize) reader->header[2] << 8) |
                               (gsize) reader->header[3];

              if (body_len == 0 || body_len > reader->max_body)
                {
                  reader->failed = TRUE;
                  reader->bad_length = body_len;
                  *consumed = used;
                  set_bad_length (reader, error);
                  return FALSE;
                }
              reader->body_len = body_len;
              reader->body_have = 0;
              reader->body = g_malloc (body_len);
            }
        }
      else
        {
          gsize n = MIN (reader->body_len - reader->body_have, len - used);

          memcpy (reader->body + reader->body_have, data + used, n);
          reader->body_have += n;
          used += n;
        }

      if (reader->header_have == CPNS_FRAME_HEADER_LEN && reader->body != NULL &&
          reader->body_have == reader->body_len)
        {
          reader->complete = bytes_new_secret (g_steal_pointer (&reader->body), reader->body_len);
          reader->header_have = 0;
          reader->body_len = 0;
          reader->body_have = 0;
        }
    }

  *consumed = used;
  return TRUE;
}

GBytes *
cpns_frame_reader_pop (CpnsFrameReader *reader)
{
  g_return_val_if_fail (reader != NULL, NULL);

  return g_steal_pointer (&reader->complete);
}

gboolean
cpns_frame_reader_is_partial (CpnsFrameReader *reader)
{
  g_return_val_if_fail (reader != NULL, FALSE);

  return reader->header_have > 0;
}

GBytes *
cpns_frame_encode (GBytes *body)
{
  gsize len;
  const guint8 *data;
  guint8 *frame;

  g_return_val_if_fail (body != NULL, NULL);

  data = g_bytes_get_data (body, &len);
  g_return_val_if_fail (len > 0 && len <= G_MAXUINT32, NULL);

  frame = g_malloc (CPNS_FRAME_HEADER_LEN + len);
  frame[0] = (len >> 24) & 0xff;
  frame[1] = (len >> 16) & 0xff;
  frame[2] = (len >> 8) & 0xff;
  frame[3] = len & 0xff;
  memcpy (frame + CPNS_FRAME_HEADER_LEN, data, len);
  return bytes_new_secret (frame, CPNS_FRAME_HEADER_LEN + len);
}

struct _CpnsFrameWriter
{
  GQueue frames;   /* of GBytes, each length prefix + body */
  gsize offset;    /* bytes of the head frame already written */
  gsize queued;    /* bytes not yet written, in all frames */
};

CpnsFrameWriter *
cpns_frame_writer_new (void)
{
  CpnsFrameWriter *writer = g_new0 (CpnsFrameWriter, 1);

  g_queue_init (&writer->frames);
  return writer;
}

void
cpns_frame_writer_free (CpnsFrameWriter *writer)
{
  if (writer == NULL)
    return;
  g_queue_clear_full (&writer->frames, (GDestroyNotify) g_bytes_unref);
  g_free (writer);
}

void
cpns_frame_writer_push (CpnsFrameWriter *writer,
                        GBytes          *body)
{
  GBytes *frame;

  g_return_if_fail (writer != NULL);
  g_return_if_fail (body != NULL);

  frame = cpns_frame_encode (body);
  g_return_if_fail (frame != NULL);
  writer->queued += g_bytes_get_size (frame);
  g_queue_push_tail (&writer->frames, frame);
}

const guint8 *
cpns_frame_writer_peek (CpnsFrameWriter *writer,
                        gsize           *len)
{
  GBytes *head;
  gsize size;
  const guint8 *data;

  g_return_val_if_fail (writer != NULL, NULL);
  g_return_val_if_fail (len != NULL, NULL);

  head = g_queue_peek_head (&writer->frames);
  if (head == NULL)
    {
      *len = 0;
      return NULL;
    }
  data = g_bytes_get_data (head, &size);
  *len = size - writer->offset;
  return data + writer->offset;
}

void
cpns_frame_writer_advance (CpnsFrameWriter *writer,
                           gsize            written)
{
  g_return_if_fail (writer != NULL);

  while (written > 0)
    {
      GBytes *head = g_queue_peek_head (&writer->frames);
      gsize left;

      g_return_if_fail (head != NULL);
      left = g_bytes_get_size (head) - writer->offset;
      if (written < left)
        {
          writer->offset += written;
          writer->queued -= written;
          return;
        }
      written -= left;
      writer->queued -= left;
      writer->offset = 0;
      g_bytes_unref (g_queue_pop_head (&writer->frames));
    }
}

gboolean
cpns_frame_writer_is_empty (CpnsFrameWriter *writer)
{
  g_return_val_if_fail (writer != NULL, TRUE);

  return g_queue_is_empty (&writer->frames);
}

gsize
cpns_frame_writer_get_queued_bytes (CpnsFrameWriter *writer)
{
  g_return_val_if_fail (writer != NULL, 0);

  return writer->queued;
}
