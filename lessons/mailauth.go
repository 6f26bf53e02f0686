package lessons

// mailAuthMetas returns lesson 12's meta-commands: :dns, :spf, :dkim and
// :dmarc over the lab's built-in DNS data.
func mailAuthMetas() []extraMeta {
	return nil
}
