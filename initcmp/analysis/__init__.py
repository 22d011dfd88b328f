"""Why an initializer wins: mean-field theory (`theory`, numpy only), the theory applied
to a configured network (`predict`), and `inspect`'s measurement of the signal layer by
layer with its findings in words (`diagnose`)."""
