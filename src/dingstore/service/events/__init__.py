"""Change events: subscriptions, what each change emits, and their delivery (Stream mode, HTTP
push, the pull feed). docs/events.md tells it from the user's side."""
