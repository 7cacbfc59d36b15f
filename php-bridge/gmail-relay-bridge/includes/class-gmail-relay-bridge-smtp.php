<?php
/**
 * PHPMailer's SMTP client, keeping the relay's answer to the message.
 *
 * PHPMailer sends QUIT after the message, so getLastReply() ends up as "221 Bye", and on a refusal
 * it quits before reporting, which clears the error; the reply that matters is the one to the end
 * of DATA ("250 2.0.0 Ok: sent as ... (log 12)", "554 5.6.0 ... (log 13)") or the first command the
 * relay refused ("535 5.7.8 Authentication credentials invalid"). Loaded only once PHPMailer's SMTP
 * class exists (wp_mail() loads it).
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'GMAIL_RELAY_BRIDGE_TESTING' ) ) {
	exit;
}

/**
 * SMTP client that remembers the relay's answer to the message.
 */
class Gmail_Relay_Bridge_SMTP extends \PHPMailer\PHPMailer\SMTP {

	/** @var string The reply to the end of DATA, or the first refusal ('' before either). */
	private $message_reply = '';

	/**
	 * @param string $msg_data The message.
	 * @return bool
	 */
	public function data( $msg_data ) {
		$this->message_reply = '';
		$result              = parent::data( $msg_data );
		$this->message_reply = self::as_reply( $this->getLastReply() );
		return $result;
	}

	/**
	 * The text when it is an SMTP reply, else '' (after a failed TLS handshake PHPMailer reads
	 * encrypted bytes as if they were one).
	 *
	 * @param string $reply Raw reply lines.
	 * @return string
	 */
	public static function as_reply( $reply ) {
		$reply = trim( (string) $reply );
		return 1 === preg_match( '/\A[2-5][0-9]{2}(?:[ -][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*)?\z/u', $reply ) ? $reply : '';
	}

	/**
	 * Remembers the first reply that refused a command.
	 *
	 * @param string $command       Name for the debug output.
	 * @param string $commandstring The line sent.
	 * @param int|int[] $expect     Accepted reply codes.
	 * @return bool
	 */
	protected function sendCommand( $command, $commandstring, $expect ) {
		$result = parent::sendCommand( $command, $commandstring, $expect );
		if ( ! $result && '' === $this->message_reply ) {
			$this->message_reply = self::as_reply( $this->getLastReply() );
		}
		return $result;
	}

	/**
	 * Called before each message, so a failure before DATA does not show the previous reply.
	 */
	public function forget_message_reply() {
		$this->message_reply = '';
	}

	/**
	 * @return string The relay's reply to the last message, such as "250 2.0.0 Ok: sent as ... (log 12)".
	 */
	public function get_message_reply() {
		return $this->message_reply;
	}
}
