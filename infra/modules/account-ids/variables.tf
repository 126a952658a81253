variable "name" {
  description = "The deployment's prefix (infra/ variable `name`): every account id starts with it."
  type        = string
}

variable "functions" {
  description = "The `functions` map of infra/functions.json; each function's `public`, `secrets` and `optional_secrets` are read."
  type = map(object({
    public           = bool
    secrets          = list(string)
    optional_secrets = list(string)
  }))
}
