variable "name" {
  description = "The deployment's prefix (infra/ variable `name`): every account id starts with it."
  type        = string
}

variable "functions" {
  description = "The `functions` map of infra/functions.json; only each function's `public` is read."
  type        = map(object({ public = bool }))
}
