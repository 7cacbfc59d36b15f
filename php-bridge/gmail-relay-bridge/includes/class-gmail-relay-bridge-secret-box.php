<?php
/**
 * Encrypts the secrets the settings page stores (SMTP password, status read token).
 *
 * The key is derived from WordPress's secret keys, which live in wp-config.php and not in the
 * database, so a database dump alone does not reveal the relay password. Constants in
 * wp-config.php remain the better place for secrets: then nothing is stored at all.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'GMAIL_RELAY_BRIDGE_TESTING' ) ) {
	exit;
}

/**
 * Authenticated encryption (libsodium secretbox) of short strings.
 */
final class Gmail_Relay_Bridge_Secret_Box {

	/** Prefix of stored values: the format may change, old values must stay readable. */
	const PREFIX = 'grb1:';

	/** @var string 32-byte key. */
	private $key;

	/**
	 * @param string $key_material Secret text (WordPress: wp_salt( 'secure_auth' )).
	 */
	public function __construct( $key_material ) {
		$this->key = sodium_crypto_generichash(
			'gmail-relay-bridge settings secret|' . (string) $key_material,
			'',
			SODIUM_CRYPTO_SECRETBOX_KEYBYTES
		);
	}

	/**
	 * @param string $plaintext Secret.
	 * @return string Printable ciphertext for wp_options.
	 */
	public function seal( $plaintext ) {
		$nonce = random_bytes( SODIUM_CRYPTO_SECRETBOX_NONCEBYTES );
		return self::PREFIX . base64_encode( $nonce . sodium_crypto_secretbox( (string) $plaintext, $nonce, $this->key ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- binary ciphertext in a text option.
	}

	/**
	 * @param string $sealed A value from seal().
	 * @return string|null The secret, or null when the value was not sealed with this key.
	 */
	public function open( $sealed ) {
		$sealed = (string) $sealed;
		if ( 0 !== strpos( $sealed, self::PREFIX ) ) {
			return null;
		}
		$raw = base64_decode( substr( $sealed, strlen( self::PREFIX ) ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		if ( false === $raw || strlen( $raw ) < SODIUM_CRYPTO_SECRETBOX_NONCEBYTES + SODIUM_CRYPTO_SECRETBOX_MACBYTES ) {
			return null;
		}
		$plain = sodium_crypto_secretbox_open(
			substr( $raw, SODIUM_CRYPTO_SECRETBOX_NONCEBYTES ),
			substr( $raw, 0, SODIUM_CRYPTO_SECRETBOX_NONCEBYTES ),
			$this->key
		);
		return false === $plain ? null : $plain;
	}
}
