terraform {
  # The same floor as the aws and gcp modules that call this one. No provider: it only renders a
  # template.
  required_version = ">= 1.5"
}
