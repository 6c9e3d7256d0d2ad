/* placeholder: replaced by the directory backend */
#include <config.h>
#include "log.h"
#include "store.h"
struct store *
store_dir_open (const struct store_config *config, const char *root)
{
  s3cow_log_error ("directory backend not built yet");
  return NULL;
}
