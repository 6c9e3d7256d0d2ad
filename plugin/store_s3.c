/* placeholder: replaced by the S3 backend */
#include <config.h>
#include "log.h"
#include "store.h"
struct store *
store_s3_open (const struct store_config *config)
{
  s3cow_log_error ("S3 backend not built yet");
  return NULL;
}
