"""The learning loop: memory, distillation, debriefs, persona evolution and its history."""
